/**
 * `npm run bench [-- name …]`: runs the benchmarks of BRIEF §8 in sequence, each in a fresh child process
 * (so one benchmark's memory, native model state or crash never colours the next), each bounded in time.
 * A name selects every benchmark it is a prefix of (`worker` → worker-streaming). Each benchmark prints a
 * summary and exactly one JSON line; a benchmark that dies or overruns gets an ERROR JSON line from here.
 * Benchmarks measure and report: the exit code is 0 unless a benchmark could not run at all.
 */
import { fork } from "node:child_process";
import { resolve as resolvePath } from "node:path";
import { fileURLToPath } from "node:url";

interface Bench {
  name: string;
  /** Longest this benchmark may run before it is killed. */
  timeLimitMs: number;
  run(): Promise<void>;
}

export const BENCHMARKS: readonly Bench[] = [
  {
    name: "worker-streaming",
    timeLimitMs: 240_000,
    run: async () => (await import("./worker-streaming.js")).benchWorkerStreaming(),
  },
  { name: "broker", timeLimitMs: 240_000, run: async () => (await import("./broker.js")).benchBroker() },
  {
    name: "nsed-overhead",
    timeLimitMs: 180_000,
    run: async () => (await import("./nsed-overhead.js")).benchNsedOverhead(),
  },
  {
    name: "parallel-efficiency",
    timeLimitMs: 180_000,
    run: async () => (await import("./parallel-efficiency.js")).benchParallelEfficiency(),
  },
  {
    name: "context-growth",
    timeLimitMs: 180_000,
    run: async () => (await import("./context-growth.js")).benchContextGrowth(),
  },
  { name: "memory", timeLimitMs: 180_000, run: async () => (await import("./memory.js")).benchMemory() },
  {
    name: "arith-accuracy",
    timeLimitMs: 300_000,
    run: async () => (await import("./arith-accuracy.js")).benchArithAccuracy(),
  },
];

export class UnknownBenchmarkError extends Error {
  override readonly name = "UnknownBenchmarkError";
}

/** The benchmarks the arguments select, in suite order; no arguments = all. Pure. */
export function selectBenchmarks(args: readonly string[], all: readonly Bench[] = BENCHMARKS): Bench[] {
  if (args.length === 0) return [...all];
  const unknown = args.filter((a) => !all.some((b) => b.name.startsWith(a)));
  if (unknown.length > 0) {
    throw new UnknownBenchmarkError(
      `unknown benchmark(s): ${unknown.join(", ")}; choose from ${all.map((b) => b.name).join(", ")}`,
    );
  }
  return all.filter((b) => args.some((a) => b.name.startsWith(a)));
}

const SELF = fileURLToPath(import.meta.url);
const JSON_LINE = /^\{"name":/m;

interface Outcome {
  name: string;
  result: string;
  seconds: number;
}

/** Signals a benchmark child's process group: the child and everything it started (nats-server, workers). */
function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** Runs one benchmark in a child process, forwarding its output; reports an ERROR line if it printed none. */
function runChild(bench: Bench): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    // Its own process group: on a time-out the whole group goes (nats-server, worker processes), no orphans.
    const child = fork(SELF, ["--one", bench.name], {
      stdio: ["ignore", "pipe", "inherit", "ipc"],
      detached: true,
    });
    // Detached, it no longer gets the terminal's Ctrl-C: pass interrupts on to its whole group.
    const interrupt = (signal: NodeJS.Signals): void => {
      killGroup(child.pid, "SIGTERM");
      process.exit(signal === "SIGINT" ? 130 : 143);
    };
    process.once("SIGINT", interrupt);
    process.once("SIGTERM", interrupt);
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      process.stdout.write(d);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, "SIGKILL");
    }, bench.timeLimitMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      process.off("SIGINT", interrupt);
      process.off("SIGTERM", interrupt);
      const seconds = (performance.now() - started) / 1000;
      const line = out.split("\n").find((l) => JSON_LINE.test(l));
      if (line === undefined) {
        const error = timedOut
          ? `killed after its time limit of ${bench.timeLimitMs / 1000} s`
          : `exited with ${signal ?? `code ${code}`} before reporting`;
        process.stdout.write(`── ${bench.name} ── ERROR: ${error}\n`);
        process.stdout.write(`${JSON.stringify({ name: bench.name, result: "ERROR", error })}\n`);
        resolve({ name: bench.name, result: "ERROR", seconds });
        return;
      }
      const result = (JSON.parse(line) as { result?: string }).result ?? "?";
      resolve({ name: bench.name, result, seconds });
    });
  });
}

async function runOne(name: string): Promise<void> {
  const bench = BENCHMARKS.find((b) => b.name === name);
  if (!bench) throw new UnknownBenchmarkError(`unknown benchmark ${name}`);
  await bench.run();
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === "--one") {
    await runOne(argv[1] ?? "");
    return 0;
  }
  let selected: Bench[];
  try {
    selected = selectBenchmarks(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  process.stdout.write(
    `conclave benchmarks: ${selected.map((b) => b.name).join(", ")} (each in its own process; numbers are from this machine, under whatever else it is running)\n\n`,
  );
  const outcomes: Outcome[] = [];
  for (const b of selected) {
    outcomes.push(await runChild(b));
    process.stdout.write("\n");
  }
  process.stdout.write("summary:\n");
  for (const o of outcomes)
    process.stdout.write(`  ${o.name.padEnd(20)} ${o.result.padEnd(6)} ${o.seconds.toFixed(1)} s\n`);
  return outcomes.some((o) => o.result === "ERROR") ? 1 : 0;
}

// Benchmarks leave no reason to linger: exit as soon as the work is done (open handles of a failed run too).
if (process.argv[1] !== undefined && resolvePath(process.argv[1]) === SELF) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
