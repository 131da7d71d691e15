/**
 * The caller's side of the worker protocol (subjects.ts): streamed inference with cancellation, scoring,
 * drain and discovery. The coordinator uses it to reach workers; tests and benchmarks use it too. It is
 * part of the shared kit because it is the protocol, not a fake of it.
 */
import { create } from "@bufbuild/protobuf";
import { createInbox } from "@nats-io/transport-node";
import {
  CancelRequestSchema,
  type InferenceRequest,
  type InferenceResult,
  type ScoreRequest,
  type ScoreResult,
  type TokenChunk,
} from "../gen/conclave/v1/inference_pb.js";
import {
  DiscoverRequestSchema,
  type DrainReply,
  DrainRequestSchema,
} from "../gen/conclave/v1/telemetry_pb.js";
import { codecs } from "./codecs.js";
import { ConclaveError, ErrorCode, fromErrorInfo, toConclaveError } from "./errors.js";
import { type NatsConnection, publishMessage, requestTyped } from "./nats-io.js";
import { subjects } from "./subjects.js";

export interface InferCallOptions {
  /** Aborting sends a cancel to the worker; the call then settles with what the worker answers. */
  signal?: AbortSignal;
  /** Receives streamed chunks in order (only when the request has `stream` set). */
  onChunk?: (chunk: TokenChunk) => void;
  /**
   * Give up when the worker has sent nothing for this long (it may have died). @default 30000
   * Chunks reset the timer; a long queue wait without chunks counts against it.
   */
  idleTimeoutMs?: number;
}

export interface ScoreCallOptions {
  signal?: AbortSignal;
  /** @default 30000 */
  timeoutMs?: number;
}

/** After a cancel, how long to wait for the worker's final frame before giving up. */
const CANCEL_GRACE_MS = 2000;

export interface WorkerClient {
  infer(workerId: string, req: InferenceRequest, options?: InferCallOptions): Promise<InferenceResult>;
  score(workerId: string, req: ScoreRequest, options?: ScoreCallOptions): Promise<ScoreResult>;
  drain(workerId: string, reason: string, graceMs?: number): Promise<DrainReply>;
  /** Asks every worker to publish its telemetry now. */
  discover(requester: string): void;
}

export function createWorkerClient(nc: NatsConnection): WorkerClient {
  return {
    infer(workerId, req, options = {}) {
      const subject = subjects.worker(workerId, "infer");
      const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
      return new Promise<InferenceResult>((resolve, reject) => {
        const replySubject = createInbox();
        const idleError = (): ConclaveError =>
          new ConclaveError(
            ErrorCode.UNAVAILABLE,
            `worker ${workerId} sent nothing for ${idleTimeoutMs} ms (request ${req.requestId})`,
            { retryable: true },
          );
        let expectedSeq = 0;
        let settled = false;
        let idle: NodeJS.Timeout | undefined;
        const sub = nc.subscribe(replySubject);
        const finish = (fn: () => void): void => {
          if (settled) return;
          settled = true;
          clearTimeout(idle);
          options.signal?.removeEventListener("abort", onAbort);
          sub.unsubscribe();
          fn();
        };
        const armIdle = (ms: number, err: () => ConclaveError): void => {
          clearTimeout(idle);
          idle = setTimeout(() => finish(() => reject(err())), ms);
        };
        const onAbort = (): void => {
          try {
            publishMessage(
              nc,
              subjects.worker(workerId, "cancel"),
              codecs.cancel,
              create(CancelRequestSchema, { requestId: req.requestId, reason: "cancelled by caller" }),
            );
          } catch {
            // The connection is gone; the grace timer below settles the call.
          }
          armIdle(
            CANCEL_GRACE_MS,
            () => new ConclaveError(ErrorCode.CANCELLED, `request ${req.requestId} cancelled`),
          );
        };
        (async () => {
          for await (const msg of sub) {
            if (msg.headers?.hasError && msg.headers.code === 503) {
              finish(() =>
                reject(
                  new ConclaveError(
                    ErrorCode.UNAVAILABLE,
                    `worker ${workerId} is not serving (no responder)`,
                  ),
                ),
              );
              return;
            }
            let frame: ReturnType<typeof codecs.inferenceFrame.decode>;
            try {
              frame = codecs.inferenceFrame.decode(msg.data, msg.headers?.get("Conclave-Type"));
            } catch (err) {
              finish(() => reject(toConclaveError(err)));
              return;
            }
            switch (frame.frame.case) {
              case "chunk": {
                const chunk = frame.frame.value;
                if (chunk.sequence !== expectedSeq) {
                  finish(() =>
                    reject(
                      new ConclaveError(
                        ErrorCode.UNAVAILABLE,
                        `stream from ${workerId} lost chunks (expected ${expectedSeq}, got ${chunk.sequence})`,
                        { retryable: true },
                      ),
                    ),
                  );
                  return;
                }
                expectedSeq += 1;
                if (!options.signal?.aborted) armIdle(idleTimeoutMs, idleError);
                options.onChunk?.(chunk);
                break;
              }
              case "result": {
                const result = frame.frame.value;
                finish(() => resolve(result));
                return;
              }
              case "error": {
                const info = frame.frame.value;
                finish(() => reject(fromErrorInfo(info)));
                return;
              }
              default:
                break;
            }
          }
        })().catch((err: unknown) => finish(() => reject(toConclaveError(err))));
        if (options.signal?.aborted) {
          finish(() => reject(new ConclaveError(ErrorCode.CANCELLED, "cancelled before it was sent")));
          return;
        }
        options.signal?.addEventListener("abort", onAbort, { once: true });
        armIdle(idleTimeoutMs, idleError);
        try {
          publishMessage(nc, subject, codecs.inferenceRequest, req, replySubject);
        } catch (err) {
          finish(() => reject(toConclaveError(err)));
        }
      });
    },

    async score(workerId, req, options = {}) {
      const timeoutMs = options.timeoutMs ?? 30_000;
      if (options.signal?.aborted)
        throw new ConclaveError(ErrorCode.CANCELLED, "cancelled before it was sent");
      const reply = await requestTyped(
        nc,
        subjects.worker(workerId, "score"),
        codecs.scoreRequest,
        req,
        codecs.scoreReply,
        timeoutMs,
      );
      if (reply.reply.case === "error") throw fromErrorInfo(reply.reply.value);
      if (reply.reply.case !== "result") throw new ConclaveError(ErrorCode.DECODE, "empty score reply");
      return reply.reply.value;
    },

    drain(workerId, reason, graceMs = 0) {
      return requestTyped(
        nc,
        subjects.worker(workerId, "drain"),
        codecs.drainRequest,
        create(DrainRequestSchema, { reason, graceMs }),
        codecs.drainReply,
        5000,
      );
    },

    discover(requester) {
      publishMessage(nc, subjects.discover(), codecs.discover, create(DiscoverRequestSchema, { requester }));
    },
  };
}
