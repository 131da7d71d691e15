/** `conclave worker`: hosts one model and serves it over NATS. */
export async function main(_argv: string[]): Promise<void> {
  process.stderr.write("conclave worker is not available yet: it lands with issue #3.\n");
  process.exitCode = 69;
}
