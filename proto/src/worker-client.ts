/**
 * The caller's side of the worker protocol (subjects.ts): streamed inference with cancellation, scoring,
 * drain and discovery. The coordinator uses it to reach workers; tests and benchmarks use it too. It is
 * part of the shared kit because it is the protocol, not a fake of it.
 *
 * It is on the coordinator's hot path (every agent of every phase is one call), so a call costs little:
 * the inference replies of one client share one wildcard subscription, `<inboxPrefix>.<nuid>.*`, made on
 * first use, as nats.js does for its own requests. A call is a reply token and a map entry, not a SUB and an
 * UNSUB on the wire plus an async iterator. The idle time-out is one timer per call, armed once: when it
 * fires it re-arms itself for whatever is left since the last frame, so a chunk costs a clock read rather
 * than a clearTimeout and a setTimeout.
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
import { TYPE_HEADER } from "./codec.js";
import { codecs } from "./codecs.js";
import { ConclaveError, ErrorCode, fromErrorInfo, toConclaveError } from "./errors.js";
import { type Msg, type NatsConnection, publishMessage, requestTyped, type Subscription } from "./nats-io.js";
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

/** A timer that fires this close to its deadline is on time (Node's timers count whole milliseconds). */
const TIMER_SLACK_MS = 1;

export interface WorkerClient {
  infer(workerId: string, req: InferenceRequest, options?: InferCallOptions): Promise<InferenceResult>;
  score(workerId: string, req: ScoreRequest, options?: ScoreCallOptions): Promise<ScoreResult>;
  drain(workerId: string, reason: string, graceMs?: number): Promise<DrainReply>;
  /** Asks every worker to publish its telemetry now. */
  discover(requester: string): void;
}

export function createWorkerClient(nc: NatsConnection): WorkerClient {
  const replies = new ReplyMux(nc);
  return {
    infer(workerId, req, options = {}) {
      const subject = subjects.worker(workerId, "infer");
      return new Promise<InferenceResult>((resolve, reject) => {
        if (options.signal?.aborted) {
          reject(new ConclaveError(ErrorCode.CANCELLED, "cancelled before it was sent"));
          return;
        }
        const call = new InferCall(nc, workerId, req, options, resolve, reject);
        let inbox: ReplyInbox;
        try {
          inbox = replies.inbox();
        } catch (err) {
          call.lost(
            `cannot subscribe to its replies: ${err instanceof Error ? err.message : String(err)}`,
            err,
          );
          return;
        }
        call.send(subject, inbox, replies.nextToken());
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

/** The inbox prefix the connection was configured with (nats.js keeps its options on the connection). */
function inboxPrefixOf(nc: NatsConnection): string | undefined {
  const prefix = (nc as unknown as { options?: { inboxPrefix?: unknown } }).options?.inboxPrefix;
  return typeof prefix === "string" && prefix !== "" ? prefix : undefined;
}

/**
 * A client's reply subscriptions: one at a time, made on first use and again after one is lost. Reply
 * tokens count up for the client's lifetime, so a token is never reused, not even across subscriptions.
 */
class ReplyMux {
  readonly #nc: NatsConnection;
  #current: ReplyInbox | undefined;
  #tokens = 0;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
  }

  /** The live reply subscription, made now if there is none. @throws when NATS refuses to subscribe */
  inbox(): ReplyInbox {
    const current = this.#current;
    if (current?.live) return current;
    const inbox = new ReplyInbox(this.#nc);
    this.#current = inbox;
    return inbox;
  }

  nextToken(): string {
    const token = this.#tokens.toString(36);
    this.#tokens += 1;
    return token;
  }
}

/**
 * One wildcard subscription and the calls waiting on it, found by the last token of a reply's subject. A
 * frame for no call (one that arrives after its call settled) is dropped. When the subscription ends —
 * the connection closed or is draining, or the server refused it — every call waiting fails `unavailable`.
 */
class ReplyInbox {
  /** `<inboxPrefix>.<nuid>.`: a call's reply subject is this and its token. */
  readonly prefix: string;
  readonly calls = new Map<string, InferCall>();
  readonly #sub: Subscription;
  #lost = false;

  constructor(nc: NatsConnection) {
    this.prefix = `${createInbox(inboxPrefixOf(nc))}.`;
    this.#sub = nc.subscribe(`${this.prefix}*`, {
      callback: (err, msg) => {
        if (err) this.#lose(err);
        else this.#dispatch(msg);
      },
    });
    this.#sub.closed.then(
      (why) => this.#lose(why ?? undefined),
      (err: unknown) => this.#lose(err),
    );
  }

  /** Whether new calls may still wait on this subscription. */
  get live(): boolean {
    return !this.#lost && !this.#sub.isClosed();
  }

  #dispatch(msg: Msg): void {
    const call = this.calls.get(msg.subject.slice(this.prefix.length));
    if (call === undefined) return;
    try {
      call.onMessage(msg);
    } catch (err) {
      // Only the caller's onChunk can throw here; it fails that call and never the subscription.
      call.failWith(toConclaveError(err));
    }
  }

  #lose(cause: unknown): void {
    if (this.#lost) return;
    this.#lost = true;
    const why = cause instanceof Error ? `: ${cause.message}` : " (connection closed or draining)";
    const waiting = [...this.calls.values()];
    this.calls.clear();
    for (const call of waiting)
      call.lost(`lost the reply subscription ${this.#sub.getSubject()}${why}`, cause);
  }
}

/**
 * One inference call: its stream's sequence check, its idle and cancel deadlines, and how it settles. It
 * listens to the caller's signal as an EventListener object, so a call allocates no closures for it.
 */
class InferCall {
  readonly #nc: NatsConnection;
  readonly #workerId: string;
  readonly #req: InferenceRequest;
  readonly #options: InferCallOptions;
  readonly #idleTimeoutMs: number;
  readonly #resolve: (result: InferenceResult) => void;
  readonly #reject: (err: ConclaveError) => void;
  #inbox: ReplyInbox | undefined;
  #token = "";
  #expectedSeq = 0;
  /** When the worker last sent something (or the request went out), in performance.now() ms. */
  #lastActivity = 0;
  /** Set once cancelled: when the cancel grace ends, whatever the worker sends meanwhile. */
  #cancelDeadline: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #settled = false;

  constructor(
    nc: NatsConnection,
    workerId: string,
    req: InferenceRequest,
    options: InferCallOptions,
    resolve: (result: InferenceResult) => void,
    reject: (err: ConclaveError) => void,
  ) {
    this.#nc = nc;
    this.#workerId = workerId;
    this.#req = req;
    this.#options = options;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  send(subject: string, inbox: ReplyInbox, token: string): void {
    this.#inbox = inbox;
    this.#token = token;
    inbox.calls.set(token, this);
    this.#options.signal?.addEventListener("abort", this, { once: true });
    this.#lastActivity = performance.now();
    this.#arm(this.#idleTimeoutMs);
    try {
      publishMessage(this.#nc, subject, codecs.inferenceRequest, this.#req, inbox.prefix + token);
    } catch (err) {
      this.failWith(toConclaveError(err));
    }
  }

  /** A message on this call's reply subject. Throws only what the caller's onChunk throws. */
  onMessage(msg: Msg): void {
    const headers = msg.headers;
    if (headers?.hasError && headers.code === 503) {
      this.failWith(
        new ConclaveError(ErrorCode.UNAVAILABLE, `worker ${this.#workerId} is not serving (no responder)`),
      );
      return;
    }
    let frame: ReturnType<typeof codecs.inferenceFrame.decode>;
    try {
      frame = codecs.inferenceFrame.decode(msg.data, headers?.get(TYPE_HEADER));
    } catch (err) {
      this.failWith(toConclaveError(err));
      return;
    }
    switch (frame.frame.case) {
      case "chunk": {
        const chunk = frame.frame.value;
        if (chunk.sequence !== this.#expectedSeq) {
          this.failWith(
            new ConclaveError(
              ErrorCode.UNAVAILABLE,
              `stream from ${this.#workerId} lost chunks (expected ${this.#expectedSeq}, got ${chunk.sequence})`,
              { retryable: true },
            ),
          );
          return;
        }
        this.#expectedSeq += 1;
        this.#lastActivity = performance.now();
        this.#options.onChunk?.(chunk);
        return;
      }
      case "result":
        if (this.#settle()) this.#resolve(frame.frame.value);
        return;
      case "error":
        this.failWith(fromErrorInfo(frame.frame.value));
        return;
      default:
        return;
    }
  }

  failWith(err: ConclaveError): void {
    if (this.#settle()) this.#reject(err);
  }

  /** Its reply subscription is gone (or could not be made): nothing more can arrive. */
  lost(why: string, cause: unknown): void {
    this.failWith(
      new ConclaveError(
        ErrorCode.UNAVAILABLE,
        `request ${this.#req.requestId} to worker ${this.#workerId}: ${why}`,
        { retryable: true, cause },
      ),
    );
  }

  /** The caller's signal aborted: ask the worker to stop, and wait for its last frame for a grace period. */
  handleEvent(): void {
    try {
      publishMessage(
        this.#nc,
        subjects.worker(this.#workerId, "cancel"),
        codecs.cancel,
        create(CancelRequestSchema, { requestId: this.#req.requestId, reason: "cancelled by caller" }),
      );
    } catch {
      // The connection is gone; the grace timer below settles the call.
    }
    clearTimeout(this.#timer);
    this.#cancelDeadline = performance.now() + CANCEL_GRACE_MS;
    this.#arm(CANCEL_GRACE_MS);
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(InferCall.#onTimer, ms, this);
  }

  static #onTimer(call: InferCall): void {
    call.#timer = undefined;
    if (call.#settled) return;
    const deadline = call.#cancelDeadline ?? call.#lastActivity + call.#idleTimeoutMs;
    const left = deadline - performance.now();
    // Activity since the timer was armed moved the deadline: wait for the rest instead of giving up.
    if (left > TIMER_SLACK_MS) {
      call.#arm(Math.ceil(left));
      return;
    }
    call.failWith(
      call.#cancelDeadline === undefined
        ? new ConclaveError(
            ErrorCode.UNAVAILABLE,
            `worker ${call.#workerId} sent nothing for ${call.#idleTimeoutMs} ms (request ${call.#req.requestId})`,
            { retryable: true },
          )
        : new ConclaveError(ErrorCode.CANCELLED, `request ${call.#req.requestId} cancelled`),
    );
  }

  /** Marks the call settled and lets go of its timer, listener and reply token; false if it already was. */
  #settle(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#options.signal?.removeEventListener("abort", this);
    this.#inbox?.calls.delete(this.#token);
    return true;
  }
}
