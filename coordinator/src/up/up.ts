/**
 * `conclave up`: a whole cluster on this machine — an embedded nats-server (or a running one with --nats),
 * a coordinator in this process, and one worker process per --model — ready in one command, stopped
 * cleanly with Ctrl-C. With --ask it answers one question and exits: the README's quick start.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { basename, join, resolve } from "node:path";
import { Command } from "commander";
import { JobState } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { ConclaveError, ErrorCode, exitCodeOf, isConclaveError } from "../../../proto/src/errors.js";
import { toWorkerIdToken } from "../../../proto/src/ids.js";
import { createLogger, type LogLevel } from "../../../proto/src/logger.js";
import { eventToJsonLine, jobToJson, newFollowState, renderFollowEvent } from "../cli/render-job.js";
import { buildJobSpec } from "../cli/submit-spec.js";
import { type Coordinator, startCoordinator } from "../server/coordinator.js";
import {
  findNatsServer,
  type NatsServerHandle,
  NatsServerMissingError,
  startNatsServer,
} from "./nats-server.js";
import { choosePort } from "./ports.js";
import { removeUpState, writeUpState } from "./state-file.js";

/**
 * The model `conclave up` runs when given no --model: a small instruct model (Qwen2.5 0.5B Instruct,
 * Apache-2.0, ~400 MB at Q4_K_M), downloaded once by node-llama-cpp and cached. Override with
 * CONCLAVE_DEFAULT_MODEL (a path or another hf: URI).
 */
export const DEFAULT_MODEL = "hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M";

const CONCLAVE_BIN = resolve(import.meta.dirname, "../../../deploy/bin/conclave.mjs");
/** How long Ctrl-C during --ask waits for the job to acknowledge its cancellation. */
const CANCEL_WAIT_MS = 5000;
/** How long stopping waits for workers to finish their work and leave before killing them. */
const WORKER_STOP_GRACE_MS = 15_000;

interface UpFlags {
  model?: string[];
  nats?: string;
  listen?: string;
  parallel?: string;
  threads?: string;
  context?: string;
  ask?: string;
  strategy?: string;
  agents?: string;
  rounds?: string;
  evalMode?: string;
  json?: boolean;
  logLevel?: string;
  stateDir?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

interface WorkerProc {
  id: string;
  model: string;
  child: ChildProcess;
  exited: Promise<number>;
}

function startWorker(id: string, model: string, nats: string, flags: UpFlags): WorkerProc {
  const args = [CONCLAVE_BIN, "worker", "--model", model, "--nats", nats, "--id", id, "--log-level", "warn"];
  if (flags.parallel) args.push("--parallel", flags.parallel);
  if (flags.threads) args.push("--threads", flags.threads);
  if (flags.context) args.push("--context", flags.context);
  // stderr passes through: download progress and start-up errors reach the person directly.
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "inherit"] });
  const exited = new Promise<number>((r) =>
    child.once("exit", (code, signal) => r(code ?? (signal ? 128 : 1))),
  );
  return { id, model, child, exited };
}

export async function upMain(argv: string[]): Promise<number> {
  const cmd = new Command("conclave up")
    .description("start a local cluster: nats-server, a coordinator and one worker per --model")
    .option("-m, --model <path|hf:uri>", `model to serve (repeatable); default ${DEFAULT_MODEL}`, collect)
    .option("--nats <url>", "join this NATS server instead of starting one")
    .option("--listen <host:port>", "coordinator gRPC address (default 127.0.0.1:7420, or a free port)")
    .option("--parallel <n>", "slots per worker (default: 3 with one model, else 1)")
    .option("--threads <n>", "CPU threads per worker (use 1 for tiny models)")
    .option("--context <n>", "context tokens per slot")
    .option("--ask <question>", "ask one question, print the answer, stop everything")
    .option("-s, --strategy <name>", "strategy for --ask", "nsed")
    .option("-n, --agents <n>", "agents for --ask")
    .option("-r, --rounds <n>", "max rounds for --ask")
    .option("--eval-mode <mode>", "peer review mode for --ask: batch, per-candidate, likelihood")
    .option("--json", "with --ask: one JSON object per event, then the result object")
    .option("--log-level <level>", "coordinator log level", "warn")
    .option("--state-dir <dir>", "where the embedded NATS keeps its data (default ~/.conclave)")
    .exitOverride()
    .showHelpAfterError("(run `conclave up --help` for every option)");
  try {
    cmd.parse(argv, { from: "user" });
  } catch (err) {
    return (err as { exitCode?: number }).exitCode === 0 ? 0 : 2;
  }
  const flags = cmd.opts<UpFlags>();
  const models =
    flags.model && flags.model.length > 0
      ? flags.model
      : [process.env.CONCLAVE_DEFAULT_MODEL || DEFAULT_MODEL];
  if (!flags.parallel && models.length === 1) flags.parallel = "3";
  let spec: ReturnType<typeof buildJobSpec> | undefined;
  try {
    if (flags.ask !== undefined) {
      spec = buildJobSpec(flags.ask, {
        ...(flags.strategy ? { strategy: flags.strategy } : {}),
        ...(flags.agents ? { agents: flags.agents } : {}),
        ...(flags.rounds ? { rounds: flags.rounds } : {}),
        ...(flags.evalMode ? { evalMode: flags.evalMode } : {}),
      });
    }
  } catch (err) {
    say(`conclave up: ${(err as Error).message}`);
    return 2;
  }

  const log = createLogger({ name: "coordinator", level: (flags.logLevel ?? "warn") as LogLevel });
  let nats: NatsServerHandle | undefined;
  let coordinator: Coordinator | undefined;
  const workers: WorkerProc[] = [];
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    for (const w of workers) if (w.child.exitCode === null) w.child.kill("SIGTERM");
    // A drain grace for the workers; cleared at once when they are gone (a pending timer would hold this
    // process open for the rest of the 15 s after everything stopped).
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(workers.map((w) => w.exited)),
      new Promise((r) => {
        grace = setTimeout(r, WORKER_STOP_GRACE_MS);
      }),
    ]);
    clearTimeout(grace);
    for (const w of workers) if (w.child.exitCode === null) w.child.kill("SIGKILL");
    await coordinator?.stop().catch(() => {});
    await nats?.stop().catch(() => {});
    removeUpState(process.pid);
  };
  const interrupted = new Promise<number>((resolveSignal) => {
    const onSignal = () => resolveSignal(130);
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  });

  try {
    // 1. NATS: join the given server, or start our own (4222 when free, else any free port).
    let natsUrl = flags.nats;
    if (!natsUrl) {
      try {
        findNatsServer();
      } catch (err) {
        if (err instanceof NatsServerMissingError)
          throw new ConclaveError(
            ErrorCode.FAILED_PRECONDITION,
            `${err.message}\nOr join a running server: conclave up --nats nats://host:4222`,
          );
        throw err;
      }
      const { port, note } = await choosePort(4222);
      const storeDir = join(flags.stateDir ?? join(homedir(), ".conclave"), `nats-${port}`);
      mkdirSync(storeDir, { recursive: true });
      nats = await startNatsServer({ port, storeDir });
      natsUrl = nats.url;
      say(`nats-server ${natsUrl} (embedded${note ? `; ${note}` : ""})`);
    } else {
      say(`joining NATS at ${natsUrl}`);
    }

    // 2. Coordinator in this process.
    let listen = flags.listen;
    if (!listen) {
      const { port, note } = await choosePort(7420);
      listen = `127.0.0.1:${port}`;
      if (note) say(`coordinator: ${note}`);
    }
    const httpPort = await choosePort(7421);
    if (httpPort.note) say(`OpenAI API: ${httpPort.note}`);
    coordinator = await startCoordinator({
      nats: natsUrl,
      listen,
      httpListen: `127.0.0.1:${httpPort.port}`,
      log,
      recoveryDelayMs: 500,
    });
    writeUpState({
      pid: process.pid,
      coordinator: coordinator.address,
      nats: natsUrl,
      startedAt: new Date().toISOString(),
    });

    // 3. One worker per model.
    models.forEach((model, i) => {
      const id = `up-${i + 1}-${toWorkerIdToken(basename(model).replace(/\.gguf$/i, "")).slice(0, 30)}`;
      workers.push(startWorker(id, model, natsUrl, flags));
    });
    say(`starting ${workers.length} worker(s): ${workers.map((w) => `${w.id} (${w.model})`).join(", ")}`);

    // 4. Wait until every worker is ready, or one fails to start, or the person gives up.
    const ready = (async () => {
      while (!stopping) {
        const live = coordinator.registry.state.workers;
        if (workers.every((w) => ["ready", "busy"].includes(live.get(w.id as never)?.state ?? ""))) return 0;
        await new Promise((r) => setTimeout(r, 100));
      }
      return 1;
    })();
    const failedStart = Promise.race(
      workers.map(async (w) => {
        const code = await w.exited;
        return { w, code };
      }),
    );
    const first = await Promise.race([
      ready.then(() => "ready" as const),
      failedStart.then((f) => f),
      interrupted.then(() => "interrupted" as const),
    ]);
    if (first === "interrupted") return 130;
    if (first !== "ready") {
      const hint = first.w.model.startsWith("hf:")
        ? `\nNo internet, or want another model? Pass a local GGUF file: conclave up --model /path/to/model.gguf`
        : "";
      throw new ConclaveError(
        ErrorCode.FAILED_PRECONDITION,
        `worker ${first.w.id} could not start (exit ${first.code}); see its message above${hint}`,
      );
    }
    const lines = coordinator.registry.list(false).map((s) => {
      const t = s.telemetry;
      return `  ${t?.workerId}  ${t?.model?.name} (${t?.model?.quantization})  ${t?.slots?.total} slot(s)  ${(t?.throughput?.generationTokensPerSecond ?? 0).toFixed(0)} tok/s`;
    });
    say(`Conclave is up: coordinator ${coordinator.address}, NATS ${natsUrl}`);
    if (coordinator.openAiUrl) say(`OpenAI-compatible API: ${coordinator.openAiUrl} (model "conclave")`);
    for (const l of lines) say(l);

    if (!spec) {
      say(
        `\nAsk it something:\n  conclave submit "Why is the sky blue?" --follow\nWatch the pool:  conclave workers --watch\nStop with Ctrl-C.`,
      );
      // Stay up until interrupted or every worker has gone.
      await Promise.race([interrupted, Promise.all(workers.map((w) => w.exited))]);
      return 0;
    }

    // 5. --ask: one job, followed live, then stop.
    const job = await coordinator.jobs.submit(spec);
    const state = newFollowState();
    const controller = new AbortController();
    let wasInterrupted = false;
    void interrupted.then(() => {
      // Cancel, and keep following until the job says it stopped (so the transcript ends properly and the
      // person sees it); give up waiting after a few seconds. A second Ctrl-C quits at once (default action).
      wasInterrupted = true;
      say(`interrupted: cancelling ${job.jobId} (Ctrl-C again to quit at once)`);
      const giveUp = setTimeout(() => controller.abort(), CANCEL_WAIT_MS);
      giveUp.unref();
      void coordinator?.jobs.cancel(job.jobId, "interrupted").catch(() => controller.abort());
    });
    let final: ReturnType<typeof jobToJson> | undefined;
    let finalState: JobState | undefined;
    for await (const event of coordinator.jobs.watch(job.jobId, 1n, controller.signal)) {
      if (flags.json) process.stdout.write(`${eventToJsonLine(event)}\n`);
      else for (const line of renderFollowEvent(event, state)) process.stdout.write(`${line}\n`);
      if (event.event.case === "finished" && event.event.value.job) {
        final = jobToJson(event.event.value.job);
        finalState = event.event.value.job.state;
      }
    }
    if (flags.json && final) process.stdout.write(`${JSON.stringify(final)}\n`);
    if (wasInterrupted || finalState === JobState.CANCELLED) return 130;
    return finalState === JobState.SUCCEEDED ? 0 : 1;
  } catch (err) {
    say(`conclave up: ${(err as Error).message}`);
    if (!isConclaveError(err)) log.error({ err }, "conclave up failed");
    return isConclaveError(err) ? exitCodeOf(err.code) : 1;
  } finally {
    await stopAll();
  }
}
