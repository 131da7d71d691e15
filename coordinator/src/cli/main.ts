/**
 * The `conclave` command line (everything but `conclave worker`, which the launcher sends to the worker).
 */
import { Command } from "commander";

export async function main(argv: string[]): Promise<void> {
  const program = new Command("conclave")
    .description("Pool a home lab of GPUs into one LLM ensemble that deliberates.")
    .showHelpAfterError();
  program
    .command("up")
    .description("start a local cluster (nats-server, coordinator, one worker per model) — coming soon")
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(() => {
      process.stderr.write(
        "conclave up is not available yet: the coordinator service lands with issue #6.\n" +
          "Today the repository provides the wire contract, the shared kit and its tests (npm test).\n",
      );
      process.exitCode = 69;
    });
  await program.parseAsync(argv, { from: "user" });
}
