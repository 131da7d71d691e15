/**
 * The `conclave` command line (every command but `conclave worker`, which the launcher sends to the worker).
 * Plain-word errors, `--help` everywhere, and exit codes derived from the error code (proto/src/errors.ts).
 */
import { Command, CommanderError, Option } from "commander";
import { ConclaveError, ErrorCode, exitCodeOf, isConclaveError } from "../../../proto/src/errors.js";
import { VERSION } from "../../../proto/src/version.js";
import { readUpState } from "../up/state-file.js";
import {
  cancelCommand,
  drainCommand,
  type Io,
  jobCommand,
  jobsCommand,
  planCommand,
  processIo,
  submitCommand,
  workersCommand,
} from "./client-commands.js";
import {
  type ConnectionFlags,
  coordinatorClient,
  DEFAULT_COORDINATOR,
  explainConnectionError,
  resolveConnection,
} from "./connection.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

export interface CliHooks {
  /** `conclave coordinator` (runs the server in this process). */
  coordinator?: (argv: string[]) => Promise<number>;
  /** `conclave up` (local cluster). */
  up?: (argv: string[]) => Promise<number>;
}

export async function runCli(argv: string[], io: Io = processIo, hooks: CliHooks = {}): Promise<number> {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new ConclaveError(ErrorCode.CANCELLED, "interrupted"));
  process.once("SIGINT", onSignal);
  let exitCode = 0;
  const program = new Command("conclave")
    .description("Pool a home lab of GPUs into one LLM ensemble that deliberates.")
    .version(VERSION, "-V, --version")
    .addOption(
      new Option(
        "--coordinator <host:port>",
        `coordinator gRPC address (default ${DEFAULT_COORDINATOR})`,
      ).env("CONCLAVE_COORDINATOR"),
    )
    .addOption(new Option("--token <token>", "API token for the coordinator").env("CONCLAVE_API_TOKEN"))
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, "")),
      writeErr: (s) => io.err(s.replace(/\n$/, "")),
    })
    .showHelpAfterError("(add --help for usage)")
    .addHelpText(
      "after",
      `
Quick start:
  conclave up --model model.gguf         start NATS, a coordinator and a worker on this machine
  conclave submit "question" --follow    ask the ensemble and watch it deliberate
  conclave workers                       what is in the pool`,
    );

  const client = () => {
    const flags = program.opts<ConnectionFlags>();
    const conn = resolveConnection(flags, {}, readUpState()?.coordinator);
    return { client: coordinatorClient(conn), address: conn.address };
  };
  const run = async (fn: (c: ReturnType<typeof coordinatorClient>) => Promise<number>) => {
    const { client: c, address } = client();
    try {
      exitCode = await fn(c);
    } catch (err) {
      throw explainConnectionError(err, address);
    } finally {
      c.close();
    }
  };

  program
    .command("workers")
    .description("list the workers in the pool with live numbers")
    .option("--json", "print an array of worker objects")
    .option("-w, --watch", "refresh until interrupted")
    .option("--interval <duration>", "refresh period for --watch", "2s")
    .option("-a, --all", "include dead and departed workers still remembered")
    .action((opts) => run((c) => workersCommand(c, io, opts, controller.signal)));

  program
    .command("plan")
    .description("show how the broker would seat workers right now, and why")
    .option(
      "-s, --strategy <name>",
      "nsed, single, majority, moa, self-moa, self-moa-seq, debate, council",
      "nsed",
    )
    .option("-n, --agents <n>", "number of agent seats (0 = the strategy's default)")
    .option("--domain <domain>", "task domain for quality priors: general, math, code, review", "general")
    .option("--round-budget <seconds>", "per-round latency budget: slower seats are excluded")
    .option("--compute-budget <seconds>", "total seat-seconds per round (the knapsack capacity)")
    .option("--energy-budget <joules>", "total energy per round where power is known")
    .option("--family-cap <k>", "at most k seats per model family")
    .option("--json", "print the plan as JSON")
    .action((opts) => run((c) => planCommand(c, io, opts)));

  program
    .command("submit")
    .description("submit a task to the ensemble")
    .argument("[prompt]", "the task (or use --file; '-' reads stdin)")
    .option("-f, --file <path>", "read the task from a file ('-' for stdin)")
    .option(
      "-s, --strategy <name>",
      "nsed, single, majority, moa, self-moa, self-moa-seq, debate, council",
      "nsed",
    )
    .option("-n, --agents <n>", "agent seats")
    .option("-r, --rounds <n>", "maximum rounds")
    .option("--min-rounds <n>", "minimum rounds before convergence may stop")
    .option("-t, --temperature <t>", "sampling temperature for proposals")
    .option("--gamma <g>", "NSED forget gate in [0, 1]")
    .option(
      "--eval-mode <mode>",
      "NSED peer review: batch, per-candidate, likelihood (default: the models' profile)",
    )
    .option("--domain <domain>", "general, math, code or review", "general")
    .option("--max-tokens <n>", "max tokens per proposal")
    .option("--deadline <duration>", "give up after this long, e.g. 2m")
    .option("--compute-budget <seconds>", "seat-seconds budget per round")
    .option("--round-budget <seconds>", "per-round latency budget")
    .option("--system <text>", "system prompt for proposers")
    .option("--label <key=value>", "label the job (repeatable)", collect)
    .option("--follow", "stream the deliberation live, then print the answer")
    .option("--json", "one JSON object per event, then the result object")
    .option("--detach", "print the job id and return at once")
    .action((prompt: string | undefined, opts) =>
      run((c) => submitCommand(c, io, prompt, opts, controller.signal)),
    );

  program
    .command("jobs")
    .description("list jobs, newest first")
    .option("--state <state>", "queued, running, succeeded, failed, cancelled (repeatable)", collect)
    .option("--limit <n>", "at most this many", "50")
    .option("--json", "print job objects")
    .action((opts) => run((c) => jobsCommand(c, io, opts)));

  program
    .command("job")
    .description("show one job")
    .argument("<id>", "job id")
    .option("--transcript", "include every prompt, proposal, review and vote")
    .option("--follow", "stream its events until it finishes")
    .option("--json", "JSON output")
    .action((id: string, opts) => run((c) => jobCommand(c, io, id, opts, controller.signal)));

  program
    .command("cancel")
    .description("cancel a queued or running job")
    .argument("<id>", "job id")
    .option("--reason <text>", "recorded in the transcript")
    .action((id: string, opts: { reason?: string }) => run((c) => cancelCommand(c, io, id, opts.reason)));

  program
    .command("drain")
    .description("let a worker finish its work and leave the pool")
    .argument("<worker>", "worker id")
    .option("--grace <duration>", "cancel in-flight work after this long (default: the worker's setting)")
    .option("--reason <text>", "why (logged)")
    .action((id: string, opts) => run((c) => drainCommand(c, io, id, opts)));

  program
    .command("coordinator")
    .description("run the coordinator (registry, broker, deliberation, gRPC API)")
    .helpOption(false)
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(async () => {
      if (!hooks.coordinator)
        throw new ConclaveError(ErrorCode.UNSUPPORTED, "the coordinator is not available");
      exitCode = await hooks.coordinator(argv.slice(argv.indexOf("coordinator") + 1));
    });

  program
    .command("up")
    .description("start a local cluster: nats-server, a coordinator and one worker per --model")
    .helpOption(false)
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(async () => {
      if (!hooks.up) throw new ConclaveError(ErrorCode.UNSUPPORTED, "`conclave up` is not available");
      exitCode = await hooks.up(argv.slice(argv.indexOf("up") + 1));
    });

  program.command("worker").description("run a worker (see `conclave worker --help`)");

  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (isConclaveError(err)) {
      io.err(`conclave: ${err.message}`);
      return exitCodeOf(err.code);
    }
    io.err(`conclave: unexpected error: ${(err as Error).message ?? String(err)}`);
    return 1;
  } finally {
    process.off("SIGINT", onSignal);
  }
}

export async function main(argv: string[]): Promise<void> {
  const hooks: CliHooks = {
    coordinator: async (args) => (await import("../server/main.js")).coordinatorMain(args),
    up: async (args) => (await import("../up/up.js")).upMain(args),
  };
  process.exitCode = await runCli(argv, processIo, hooks);
}
