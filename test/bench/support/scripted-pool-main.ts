/**
 * Child-process entry of the scripted worker pool: real worker services (each with its own NATS
 * connection) around ScriptedBackends that answer valid NSED JSON, with per-worker simulated latency.
 * Driven over IPC (scripted-pool-protocol.ts); records every generate call's own time for the benchmark.
 */

import { silentLogger } from "../../../proto/src/logger.js";
import { connectNats, type NatsConnection } from "../../../proto/src/nats-io.js";
import { VERSION } from "../../../proto/src/version.js";
import type {
  GenerateCallOptions,
  GenerateRequest,
  GenerateResult,
} from "../../../worker/src/backends/types.js";
import { startWorkerService, type WorkerService } from "../../../worker/src/service/worker-service.js";
import { ThroughputTracker } from "../../../worker/src/throughput.js";
import { ScriptedBackend, type ScriptedBackendOptions } from "../../support/scripted-backend.js";
import { fullGc } from "./gc.js";
import { requestKind, scriptedReply } from "./scripted-answers.js";
import type {
  CallRecord,
  PoolConfig,
  PoolReply,
  PoolRequest,
  PoolWorkerSpec,
} from "./scripted-pool-protocol.js";

/** Most call records kept between two fetches (a bound, not an expected size). */
const MAX_RECORDS = 100_000;

/** A ScriptedBackend that records how long each of its own generate calls took. */
class TimedScriptedBackend extends ScriptedBackend {
  readonly #workerId: string;
  readonly #sink: CallRecord[];
  #index = 0;

  constructor(workerId: string, sink: CallRecord[], options: ScriptedBackendOptions) {
    super(options);
    this.#workerId = workerId;
    this.#sink = sink;
  }

  override async generate(req: GenerateRequest, options?: GenerateCallOptions): Promise<GenerateResult> {
    const index = this.#index++;
    const t0 = performance.now();
    const result = await super.generate(req, options);
    const t1 = performance.now();
    // ScriptedBackend keeps every request for test assertions; a long benchmark must not measure that.
    this.received.length = 0;
    if (this.#sink.length < MAX_RECORDS) {
      this.#sink.push({
        workerId: this.#workerId,
        kind: requestKind(req),
        index,
        backendMs: t1 - t0,
        startedAtMs: performance.timeOrigin + t0,
        endedAtMs: performance.timeOrigin + t1,
        completionTokens: result.completionTokens,
      });
    }
    return result;
  }
}

interface Running {
  service: WorkerService;
  backend: ScriptedBackend;
  nc: NatsConnection;
}

const records: CallRecord[] = [];
const running: Running[] = [];

async function startOne(config: PoolConfig, spec: PoolWorkerSpec): Promise<Running> {
  const backend = new TimedScriptedBackend(spec.id, records, {
    name: spec.modelName,
    family: spec.family,
    parameterCount: spec.parameterCount,
    respond: scriptedReply(spec.id, config.shape),
    prefillDelayMs: spec.prefillDelayMs,
    tokenDelayMs: spec.tokenDelayMs,
  });
  const nc = await connectNats({ servers: config.natsUrl, name: `bench-worker-${spec.id}` });
  const throughput = new ThroughputTracker();
  throughput.seed({
    prefillTokensPerSecond: config.seedTokensPerSecond.prefill,
    generationTokensPerSecond: config.seedTokensPerSecond.generation,
  });
  const service = await startWorkerService({
    nc,
    backend,
    workerId: spec.id,
    host: "bench-host",
    version: VERSION,
    log: silentLogger(),
    throughput,
    telemetryIntervalMs: config.telemetryIntervalMs ?? 1000,
  });
  return { service, backend, nc };
}

async function stopAll(): Promise<void> {
  await Promise.allSettled(
    running.map(async (r) => {
      await r.service.drain("benchmark over", 1000);
      await r.backend.close();
      await r.nc.close();
    }),
  );
}

function reply(message: PoolReply, then?: () => void): void {
  process.send?.(message, undefined, {}, then);
}

async function handle(req: PoolRequest): Promise<void> {
  try {
    switch (req.type) {
      case "start":
        for (const spec of req.config.workers) running.push(await startOne(req.config, spec));
        reply({ type: "ready", id: req.id });
        return;
      case "calls":
        reply({ type: "calls", id: req.id, calls: records.splice(0, records.length) });
        return;
      case "memory": {
        if (req.gc) fullGc();
        const m = process.memoryUsage();
        const cpu = process.cpuUsage();
        reply({
          type: "memory",
          id: req.id,
          rssBytes: m.rss,
          heapUsedBytes: m.heapUsed,
          cpuMicros: cpu.user + cpu.system,
        });
        return;
      }
      case "stop":
        await stopAll();
        // Exit once the reply is on its way (disconnecting with a message queued crashes Node's IPC).
        reply({ type: "stopped", id: req.id }, () => process.exit(0));
        return;
    }
  } catch (err) {
    reply({ type: "error", id: req.id, message: err instanceof Error ? err.message : String(err) });
  }
}

// ScriptedBackend's per-token sleep adds an abort listener it never removes, so Node warns on every
// request with simulated token delays. Say each distinct warning once instead of hundreds of times.
const warned = new Set<string>();
process.removeAllListeners("warning");
process.on("warning", (w) => {
  const key = `${w.name}: ${w.message}`;
  if (warned.has(key)) return;
  warned.add(key);
  process.stderr.write(`scripted pool: ${key} (further repeats not shown)\n`);
});

process.on("message", (m: PoolRequest) => {
  void handle(m);
});
// Orphaned (the benchmark died): leave rather than linger.
process.on("disconnect", () => {
  void stopAll().finally(() => process.exit(0));
});
