/**
 * The worker's NATS shell around one ModelBackend: serves inference (streamed in batched chunks), scoring,
 * cancellation and drain on its own subjects, answers discovery, and publishes telemetry on join, every
 * interval, on every state change (coalesced to one report per event-loop turn, see state-report.ts) and
 * after every reconnect (telemetry-reporter.ts). Decisions live in the pure modules beside it; this file
 * only wires them to NATS.
 *
 * Cost per request matters (one process may host many workers; a fast model streams hundreds of tokens a
 * second), so nothing slow runs on the request path (see telemetry-reporter.ts for the reports, two per
 * request: busy, then ready).
 */
import { create } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import {
  type InferenceFrame,
  InferenceFrameSchema,
  ScoreReplySchema,
} from "../../../proto/gen/conclave/v1/inference_pb.js";
import {
  type BackendKind,
  DrainReplySchema,
  type ModelDescriptor,
  WorkerState,
} from "../../../proto/gen/conclave/v1/telemetry_pb.js";
import { codecs } from "../../../proto/src/codecs.js";
import { ConclaveError, ErrorCode, errorCodeName, toErrorInfo } from "../../../proto/src/errors.js";
import {
  type Msg,
  type NatsConnection,
  publishMessage,
  respondMessage,
  type Subscription,
  subscribeTyped,
} from "../../../proto/src/nats-io.js";
import { subjects } from "../../../proto/src/subjects.js";
import type { ModelBackend } from "../backends/types.js";
import type { HardwareSnapshot } from "../hardware-probe.js";
import { sampleFromGeneration, type ThroughputTracker } from "../throughput.js";
import { type ChunkBatcherOptions, createChunkBatcher } from "./chunk-batcher.js";
import type { RequestCounts } from "./telemetry.js";
import { createTelemetryReporter } from "./telemetry-reporter.js";
import {
  cachedJsonSchemaParser,
  toGenerateRequest,
  toInferenceResult,
  toScoreRequest,
  toWireDescriptor,
  toWireError,
  toWireScoreResult,
} from "./wire-mapping.js";
import { reportedState, type WorkerPhase } from "./worker-state.js";

export interface WorkerServiceOptions {
  nc: NatsConnection;
  backend: ModelBackend;
  workerId: string;
  host: string;
  version: string;
  log: Logger;
  throughput: ThroughputTracker;
  /** @default 2000 */
  telemetryIntervalMs?: number;
  /** Hardware edge; started from the periodic telemetry tick, never from the request path. */
  probe?: () => Promise<HardwareSnapshot>;
  /** How often the hardware probe runs at most. @default 10000 */
  probeIntervalMs?: number;
  labels?: Record<string, string>;
  /** Wire backend kind override (the scripted test backend reports itself honestly). */
  backendKind?: BackendKind;
  /** Chunk batching (see chunk-batcher.ts for the defaults). */
  chunk?: Pick<ChunkBatcherOptions, "maxChars" | "firstDelayMs" | "maxDelayMs">;
  /** How long a drain waits for in-flight work before cancelling it. @default 60000 */
  drainGraceMs?: number;
  now?: () => number;
  /** Process RSS in bytes; read on the periodic tick only. @default process.memoryUsage.rss */
  rss?: () => number;
}

export interface WorkerService {
  readonly workerId: string;
  state(): WorkerState;
  /** Publishes a telemetry report now. */
  publishTelemetry(): void;
  /**
   * Graceful drain: accept nothing new, finish in-flight work (cancelling it after the grace period),
   * announce leaving, stop serving. Idempotent; resolves when done.
   */
  drain(reason: string, graceMs?: number): Promise<void>;
  /** Resolves when the service has stopped (after a drain). */
  readonly done: Promise<void>;
}

interface InFlight {
  readonly controller: AbortController;
  /** Settles (never rejects) once the request is answered and removed from the in-flight map. */
  done: Promise<void>;
}

export async function startWorkerService(options: WorkerServiceOptions): Promise<WorkerService> {
  const { nc, backend, workerId, log } = options;
  const now = options.now ?? Date.now;
  const intervalMs = options.telemetryIntervalMs ?? 2000;
  const probeIntervalMs = options.probeIntervalMs ?? 10_000;
  const rss = options.rss ?? (() => process.memoryUsage.rss());
  const startedAtMs = now();
  const descriptor: ModelDescriptor = toWireDescriptor(backend.descriptor(), options.backendKind);
  const counts: RequestCounts = { completed: 0, failed: 0, cancelled: 0, rejectedBusy: 0, lastError: "" };
  const labels = options.labels ?? {};
  const parseSchema = cachedJsonSchemaParser();
  const inFlight = new Map<string, InFlight>();
  let phase: WorkerPhase = "serving";
  const telemetry = createTelemetryReporter({
    nc,
    backend,
    workerId,
    host: options.host,
    version: options.version,
    descriptor,
    labels,
    throughput: options.throughput,
    counts,
    phase: () => phase,
    intervalMs,
    startedAtMs,
    ...(options.probe ? { probe: options.probe } : {}),
    probeIntervalMs,
    now,
    rss,
    log,
  });

  const fail = (err: unknown): void => {
    const info = toWireError(err);
    if (info.code === ErrorCode.BUSY) counts.rejectedBusy += 1;
    else if (info.code === ErrorCode.CANCELLED) counts.cancelled += 1;
    else {
      counts.failed += 1;
      counts.lastError = `${errorCodeName(info.code)}: ${info.message}`;
    }
  };

  const notServing = (): ConclaveError =>
    new ConclaveError(
      ErrorCode.FAILED_PRECONDITION,
      `worker ${workerId} is ${phase === "draining" ? "draining" : "leaving"} and accepts no new requests`,
      { retryable: true },
    );

  const sendFrame = (reply: string, frame: InferenceFrame): void => {
    publishMessage(nc, reply, codecs.inferenceFrame, frame);
  };

  const sendError = (reply: string, err: unknown): void => {
    try {
      sendFrame(reply, create(InferenceFrameSchema, { frame: { case: "error", value: toWireError(err) } }));
    } catch (sendErr) {
      // The connection is closing: nobody is left to tell.
      log.debug({ err: sendErr }, "error frame not sent");
    }
  };

  /**
   * Runs one request's work as an in-flight entry (cancel and drain find it by id). The entry is registered
   * before the work starts and removed when it ends, inside the same async function: no extra promise per
   * request.
   */
  const track = (requestId: string, run: (signal: AbortSignal) => Promise<void>): void => {
    const controller = new AbortController();
    const entry: InFlight = { controller, done: Promise.resolve() };
    inFlight.set(requestId, entry);
    entry.done = (async () => {
      try {
        await run(controller.signal);
      } catch (err) {
        // Only the reply itself can fail here (the connection closing under it); the work never throws.
        log.debug({ err, requestId }, "reply not sent");
      } finally {
        if (inFlight.get(requestId) === entry) inFlight.delete(requestId);
        telemetry.onMaybeStateChange();
      }
    })();
  };

  const handleInfer = (msg: Msg, req: ReturnType<typeof codecs.inferenceRequest.decode>): void => {
    const reply = msg.reply;
    if (!reply) {
      log.warn({ requestId: req.requestId }, "inference request without a reply subject ignored");
      return;
    }
    const requestId = req.requestId;
    if (phase !== "serving") {
      sendFrame(
        reply,
        create(InferenceFrameSchema, { frame: { case: "error", value: toErrorInfo(notServing()) } }),
      );
      return;
    }
    if (inFlight.has(requestId)) {
      const dup = new ConclaveError(ErrorCode.ALREADY_EXISTS, `request ${requestId} is already running here`);
      sendFrame(reply, create(InferenceFrameSchema, { frame: { case: "error", value: toErrorInfo(dup) } }));
      return;
    }
    const started = performance.now();
    let chunkSeq = 0;
    const batcher = req.stream
      ? createChunkBatcher({
          ...options.chunk,
          send: (text, pieces) => {
            sendFrame(
              reply,
              create(InferenceFrameSchema, {
                frame: {
                  case: "chunk",
                  value: { requestId, sequence: chunkSeq++, text, tokenCount: pieces },
                },
              }),
            );
          },
        })
      : undefined;
    track(requestId, async (signal) => {
      try {
        const genReq = toGenerateRequest(req, parseSchema);
        const result = await backend.generate(
          genReq,
          batcher ? { signal, onText: batcher.push } : { signal },
        );
        batcher?.close();
        const totalMs = performance.now() - started;
        sendFrame(
          reply,
          create(InferenceFrameSchema, {
            frame: { case: "result", value: toInferenceResult(requestId, workerId, result, totalMs) },
          }),
        );
        if (result.finishReason === "cancelled") counts.cancelled += 1;
        else counts.completed += 1;
        if (result.finishReason === "stop" || result.finishReason === "length") {
          options.throughput.record(sampleFromGeneration(result, totalMs));
        }
      } catch (err) {
        batcher?.close();
        fail(err);
        log.debug({ err, requestId }, "inference failed");
        sendError(reply, err);
      }
      // The slot was freed before the backend returned: the "ready" report (with this request counted) goes
      // out now, in the same socket write as the final frame, instead of in a write of its own.
      telemetry.settle();
    });
  };

  const handleScore = (msg: Msg, req: ReturnType<typeof codecs.scoreRequest.decode>): void => {
    const requestId = req.requestId;
    if (phase !== "serving") {
      respondMessage(
        msg,
        codecs.scoreReply,
        create(ScoreReplySchema, { reply: { case: "error", value: toErrorInfo(notServing()) } }),
      );
      return;
    }
    const started = performance.now();
    track(requestId, async (signal) => {
      try {
        const result = await backend.score(toScoreRequest(req), { signal });
        counts.completed += 1;
        respondMessage(
          msg,
          codecs.scoreReply,
          create(ScoreReplySchema, {
            reply: {
              case: "result",
              value: toWireScoreResult(requestId, workerId, result, performance.now() - started),
            },
          }),
        );
      } catch (err) {
        fail(err);
        respondMessage(
          msg,
          codecs.scoreReply,
          create(ScoreReplySchema, { reply: { case: "error", value: toWireError(err) } }),
        );
      }
      telemetry.settle();
    });
  };

  let drained: Promise<void> | undefined;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const subs: Subscription[] = [];

  const drain = (reason: string, graceMs = options.drainGraceMs ?? 60_000): Promise<void> => {
    if (drained) return drained;
    drained = (async () => {
      phase = "draining";
      log.info({ reason, inFlight: inFlight.size }, "draining");
      telemetry.publish();
      const pending = [...inFlight.values()].map((f) => f.done);
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<"grace">((resolve) => {
        timer = setTimeout(() => resolve("grace"), graceMs);
      });
      const outcome = await Promise.race([Promise.allSettled(pending).then(() => "done" as const), grace]);
      clearTimeout(timer);
      if (outcome === "grace") {
        log.warn({ graceMs, inFlight: inFlight.size }, "drain grace period over: cancelling in-flight work");
        for (const f of inFlight.values()) f.controller.abort(new Error("worker draining"));
        await Promise.allSettled([...inFlight.values()].map((f) => f.done));
      }
      phase = "leaving";
      telemetry.publish();
      clearInterval(telemetryTimer);
      stopSlotWatch();
      for (const s of subs) s.unsubscribe();
      try {
        await nc.flush();
      } catch (err) {
        log.debug({ err }, "flush during drain failed");
      }
      log.info("left the cluster");
      resolveDone();
    })();
    return drained;
  };

  const reportDecodeError = (what: string) => (err: ConclaveError, msg: Msg) => {
    log.warn(
      { err: { code: err.codeName, message: err.message }, subject: msg.subject },
      `bad ${what} message`,
    );
  };

  subs.push(
    subscribeTyped(nc, subjects.worker(workerId, "infer"), codecs.inferenceRequest, {
      onMessage: (req, msg) => handleInfer(msg, req),
      onError: (err, msg) => {
        reportDecodeError("inference")(err, msg);
        if (msg.reply)
          sendFrame(
            msg.reply,
            create(InferenceFrameSchema, { frame: { case: "error", value: toErrorInfo(err) } }),
          );
      },
    }),
    subscribeTyped(nc, subjects.worker(workerId, "score"), codecs.scoreRequest, {
      onMessage: (req, msg) => handleScore(msg, req),
      onError: (err, msg) => {
        reportDecodeError("score")(err, msg);
        respondMessage(
          msg,
          codecs.scoreReply,
          create(ScoreReplySchema, { reply: { case: "error", value: toErrorInfo(err) } }),
        );
      },
    }),
    subscribeTyped(nc, subjects.worker(workerId, "cancel"), codecs.cancel, {
      onMessage: (req) => {
        const entry = inFlight.get(req.requestId);
        log.debug({ requestId: req.requestId, found: entry !== undefined }, "cancel");
        entry?.controller.abort(new Error(req.reason || "cancelled by caller"));
      },
      onError: reportDecodeError("cancel"),
    }),
    subscribeTyped(nc, subjects.worker(workerId, "drain"), codecs.drainRequest, {
      onMessage: (req, msg) => {
        respondMessage(
          msg,
          codecs.drainReply,
          create(DrainReplySchema, { workerId, accepted: true, inFlight: inFlight.size }),
        );
        void drain(req.reason || "drain requested", req.graceMs > 0 ? req.graceMs : undefined);
      },
      onError: reportDecodeError("drain"),
    }),
    subscribeTyped(nc, subjects.discover(), codecs.discover, {
      onMessage: () => telemetry.publish(),
      onError: reportDecodeError("discover"),
    }),
  );

  const stopSlotWatch = backend.onSlotChange((slots) =>
    telemetry.onMaybeStateChange(reportedState(phase, slots)),
  );
  const telemetryTimer = setInterval(telemetry.publishPeriodic, intervalMs);

  // After a reconnect the broker may be a fresh process: announce ourselves at once.
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "reconnect") {
        log.info({ server: status.server }, "reconnected to NATS");
        telemetry.publish();
      } else if (status.type === "disconnect") {
        log.warn({ server: status.server }, "lost NATS connection; reconnecting");
      }
    }
  })().catch((err: unknown) => log.debug({ err }, "status watch ended"));

  await telemetry.probeNow();
  await nc.flush();
  telemetry.publish();
  log.info({ workerId, model: descriptor.name, slots: backend.slots }, "joined");

  return {
    workerId,
    state: telemetry.currentState,
    publishTelemetry: telemetry.publish,
    drain,
    done,
  };
}

export { WorkerState };
