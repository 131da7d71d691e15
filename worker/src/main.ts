/**
 * `conclave worker`: hosts one model and serves it over NATS until drained or stopped.
 * Start-up order fails fast on the cheap checks: configuration, then NATS, then the model.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { Command, Option } from "commander";
import { BackendKind } from "../../proto/gen/conclave/v1/telemetry_pb.js";
import { loadConfig, toKebab } from "../../proto/src/config.js";
import { ConclaveError, ErrorCode, exitCodeOf } from "../../proto/src/errors.js";
import { newWorkerId, workerIdProblem } from "../../proto/src/ids.js";
import { createShutdown } from "../../proto/src/lifecycle.js";
import { createLogger, type LogLevel } from "../../proto/src/logger.js";
import { connectNats } from "../../proto/src/nats-io.js";
import { VERSION } from "../../proto/src/version.js";
import { isModelStartupError } from "./backends/errors.js";
import { createLlamaBackend, getSharedLlama } from "./backends/llama-backend.js";
import { createOpenAiBackend } from "./backends/openai-backend.js";
import type { BackendProgress, ModelBackend } from "./backends/types.js";
import { workerConfigProblems, workerConfigSchema } from "./config.js";
import { createHardwareProbe } from "./hardware-probe.js";
import { runSelfBench, seedThroughput } from "./self-bench.js";
import { parseLabels } from "./service/telemetry.js";
import { startWorkerService } from "./service/worker-service.js";
import { ThroughputTracker } from "./throughput.js";

/** Exit code for a model that cannot start (missing, not a GGUF, truncated, too big, ...). */
const EXIT_MODEL = 3;

function buildCommand(): Command {
  const cmd = new Command("conclave worker")
    .description("host one model and serve it to the cluster over NATS (dials out only)")
    .option(
      "-c, --config <file>",
      "YAML/JSON config file (flags override it, CONCLAVE_* env overrides the file)",
    )
    .exitOverride()
    .showHelpAfterError("(run `conclave worker --help` for every option)");
  for (const [key, spec] of Object.entries(workerConfigSchema)) {
    const flag =
      spec.kind === "boolean"
        ? `--${spec.default === true ? "no-" : ""}${toKebab(key)}`
        : `--${toKebab(key)} <value>`;
    const opt = new Option(flag, spec.doc);
    if ("choices" in spec && spec.choices) opt.choices([...spec.choices]);
    cmd.addOption(opt);
  }
  return cmd;
}

function progressPrinter(enabled: boolean): (p: BackendProgress) => void {
  let last = "";
  return (p) => {
    if (!enabled) return;
    let line: string;
    if (p.phase === "download") {
      const pct = p.totalBytes > 0 ? Math.floor((100 * p.downloadedBytes) / p.totalBytes) : 0;
      line = `downloading model ${pct}% (${(p.downloadedBytes / 1e6).toFixed(0)}/${(p.totalBytes / 1e6).toFixed(0)} MB)`;
    } else if (p.phase === "load") line = `loading model ${Math.floor(p.fraction * 100)}%`;
    else line = `measuring speed (run ${p.run + 1}/${p.runs + 1})`;
    if (line === last) return;
    last = line;
    process.stderr.write(`\r\x1b[2K${line}`);
  };
}

export async function main(argv: string[]): Promise<void> {
  const cmd = buildCommand();
  try {
    cmd.parse(argv.slice(1), { from: "user" });
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode ?? 2;
    process.exitCode = code === 0 ? 0 : 2;
    return;
  }
  const opts = cmd.opts<Record<string, unknown>>();
  const flags: Record<string, unknown> = {};
  // Only what was typed counts as a flag (commander fills defaults for --no-x options itself).
  for (const key of Object.keys(workerConfigSchema))
    if (opts[key] !== undefined && cmd.getOptionValueSource(key) === "cli") flags[key] = opts[key];

  const tty = process.stderr.isTTY === true;
  let config: ReturnType<typeof loadConfig<typeof workerConfigSchema>>["config"];
  try {
    const path = typeof opts.config === "string" ? opts.config : process.env.CONCLAVE_CONFIG;
    const file = path ? { path, text: readFileSync(path, "utf8") } : undefined;
    const problems: string[] = [];
    try {
      config = loadConfig(workerConfigSchema, { flags, env: process.env, ...(file ? { file } : {}) }).config;
    } catch (err) {
      if (!(err instanceof ConclaveError)) throw err;
      problems.push(...err.details);
      // Still check how the fields fit together, from what was given, so one run lists every problem.
      const given = (key: string) =>
        (flags[key] ?? process.env[`CONCLAVE_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`]) as
          | string
          | undefined;
      config = {
        backend: given("backend") ?? "llama",
        gpuLayers: given("gpuLayers") ?? "auto",
        ...(given("model") ? { model: given("model") } : {}),
        ...(given("upstream") ? { upstream: given("upstream") } : {}),
      } as typeof config;
    }
    problems.push(...workerConfigProblems(config));
    const idProblem = config.id ? workerIdProblem(config.id) : undefined;
    if (idProblem) problems.push(`--id: ${idProblem}`);
    if (problems.length > 0)
      throw new ConclaveError(
        ErrorCode.INVALID_ARGUMENT,
        `invalid configuration:\n  - ${problems.join("\n  - ")}`,
        {
          details: problems,
        },
      );
  } catch (err) {
    process.stderr.write(`conclave worker: ${(err as Error).message}\n`);
    process.exitCode = 2;
    return;
  }

  const log = createLogger({
    name: "worker",
    level: (config.logLevel as LogLevel | undefined) ?? (tty ? "warn" : "info"),
  });
  const host = hostname();
  const workerId = config.id ?? newWorkerId(host);
  const say = (line: string) => {
    if (tty) process.stderr.write(`\r\x1b[2K${line}\n`);
  };

  let nc: Awaited<ReturnType<typeof connectNats>>;
  try {
    nc = await connectNats({
      servers: config.nats.split(",").map((s) => s.trim()),
      name: `conclave-worker ${workerId}`,
      ...(config.natsToken ? { token: config.natsToken } : {}),
      ...(config.natsUser ? { user: config.natsUser, pass: config.natsPassword ?? "" } : {}),
    });
  } catch (err) {
    const e = err as ConclaveError;
    process.stderr.write(`conclave worker: ${e.message}\n`);
    process.exitCode = exitCodeOf(e.code ?? ErrorCode.UNAVAILABLE);
    return;
  }

  const onProgress = progressPrinter(tty);
  let backend: ModelBackend;
  try {
    if (config.backend === "openai") {
      const apiKey = config.apiKeyFile ? readFileSync(config.apiKeyFile, "utf8").trim() : undefined;
      backend = await createOpenAiBackend({
        baseUrl: config.upstream ?? "",
        parallel: config.parallel,
        queuePerSlot: config.queuePerSlot,
        ...(config.upstreamModel ? { model: config.upstreamModel } : {}),
        ...(apiKey ? { apiKey } : {}),
        ...(config.context ? { contextLength: config.context } : {}),
      });
    } else {
      backend = await createLlamaBackend({
        modelPath: config.model ?? "",
        gpuLayers: config.gpuLayers === "auto" ? "auto" : Number(config.gpuLayers),
        parallel: config.parallel,
        queuePerSlot: config.queuePerSlot,
        ...(config.context ? { contextSize: config.context } : {}),
        ...(config.threads ? { threads: config.threads } : {}),
        ...(config.batchSize ? { batchSize: config.batchSize } : {}),
        ...(config.cacheDir ? { cacheDir: config.cacheDir } : {}),
        onProgress,
      });
    }
  } catch (err) {
    if (tty) process.stderr.write("\r\x1b[2K");
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`conclave worker: ${message}\n`);
    if (!isModelStartupError(err)) log.error({ err }, "model start-up failed");
    await nc.close();
    process.exitCode = EXIT_MODEL;
    return;
  }

  const throughput = new ThroughputTracker();
  if (config.selfBench) {
    try {
      seedThroughput(throughput, await runSelfBench(backend, { onProgress }));
    } catch (err) {
      log.warn({ err }, "self-benchmark failed; throughput starts unmeasured");
    }
  }
  const descriptor = backend.descriptor();
  const llama = backend.kind === "llama" ? await getSharedLlama() : undefined;
  const service = await startWorkerService({
    nc,
    backend,
    workerId,
    host,
    version: VERSION,
    log: log.child({ component: "worker-service", workerId }),
    throughput,
    telemetryIntervalMs: config.telemetryInterval,
    drainGraceMs: config.drainGrace,
    labels: parseLabels(config.labels),
    backendKind: backend.kind === "openai" ? BackendKind.OPENAI : BackendKind.LLAMA,
    probe: createHardwareProbe(llama ? { llama } : {}),
  });
  const t = throughput.snapshot();
  say(
    `worker ${workerId} serving ${descriptor.name} (${descriptor.quantization}, ${backend.slots} slot(s))` +
      `${t.generationTokensPerSecond ? ` at ${t.generationTokensPerSecond.toFixed(0)} tok/s` : ""} on ${config.nats}`,
  );
  log.info({ workerId, model: descriptor.name, nats: config.nats }, "worker ready");

  const shutdown = createShutdown({ log, graceMs: config.drainGrace + 5000 });
  shutdown.add("nats", () => nc.close());
  shutdown.add("backend", () => backend.close());
  shutdown.add("service", () => service.drain("signal"));
  // A drain requested over NATS ends the process too, cleanly.
  void service.done.then(() => shutdown.run("drained"));
  // Surface a lost connection that never comes back (closed for good) as a failure.
  void nc.closed().then((err) => {
    if (err) {
      log.error({ err }, "NATS connection closed");
      void shutdown.run("nats closed");
    }
  });
}
