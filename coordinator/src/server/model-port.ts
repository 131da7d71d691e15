/**
 * The deliberation engine's ModelPort over NATS: every call goes to a worker through the worker protocol
 * (proto/src/worker-client.ts). Calls to a worker the registry declares dead or departed are failed at once
 * with `unavailable`, so a round never waits for a worker that is gone.
 */
import type {
  InferenceRequest,
  InferenceResult,
  ScoreRequest,
  ScoreResult,
} from "../../../proto/gen/conclave/v1/inference_pb.js";
import { ConclaveError, ErrorCode } from "../../../proto/src/errors.js";
import type { WorkerClient } from "../../../proto/src/worker-client.js";
import type { ModelCallOptions, ModelPort } from "../deliberation/index.js";

export interface NatsModelPortOptions {
  client: WorkerClient;
  /** Whether a worker is still live in the registry (checked before each call). */
  isLive(workerId: string): boolean;
  /** Outcome of every call, for the worker's reliability. */
  onOutcome?(workerId: string, ok: boolean): void;
  /** Give up on a worker that sends nothing for this long. @default 60000 */
  idleTimeoutMs?: number;
}

export class NatsModelPort implements ModelPort {
  readonly #o: NatsModelPortOptions;
  readonly #pending = new Map<string, Set<AbortController>>();

  constructor(options: NatsModelPortOptions) {
    this.#o = options;
  }

  /** Fails every call in flight to this worker (the registry saw it die or leave). */
  workerGone(workerId: string, why: string): void {
    for (const c of this.#pending.get(workerId) ?? []) {
      c.abort(new ConclaveError(ErrorCode.UNAVAILABLE, `worker ${workerId} ${why}`, { retryable: true }));
    }
  }

  generate(workerId: string, req: InferenceRequest, opts: ModelCallOptions): Promise<InferenceResult> {
    return this.#call(workerId, opts, (signal) =>
      this.#o.client.infer(workerId, req, { signal, idleTimeoutMs: this.#o.idleTimeoutMs ?? 60_000 }),
    );
  }

  score(workerId: string, req: ScoreRequest, opts: ModelCallOptions): Promise<ScoreResult> {
    return this.#call(workerId, opts, (signal) => this.#o.client.score(workerId, req, { signal }));
  }

  async #call<T>(
    workerId: string,
    opts: ModelCallOptions,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (!this.#o.isLive(workerId)) {
      throw new ConclaveError(ErrorCode.UNAVAILABLE, `worker ${workerId} is not in the pool any more`);
    }
    const local = new AbortController();
    const set = this.#pending.get(workerId) ?? new Set<AbortController>();
    set.add(local);
    this.#pending.set(workerId, set);
    const onOuter = () => local.abort(opts.signal.reason);
    if (opts.signal.aborted) onOuter();
    else opts.signal.addEventListener("abort", onOuter, { once: true });
    // A worker declared gone rejects at once, without waiting for the worker's own answer.
    const gone = new Promise<never>((_, reject) => {
      local.signal.addEventListener(
        "abort",
        () => {
          if (
            local.signal.reason instanceof ConclaveError &&
            local.signal.reason.code === ErrorCode.UNAVAILABLE
          )
            reject(local.signal.reason);
        },
        { once: true },
      );
    });
    try {
      const result = await Promise.race([fn(local.signal), gone]);
      this.#o.onOutcome?.(workerId, true);
      return result;
    } catch (err) {
      const cancelled = err instanceof ConclaveError && err.code === ErrorCode.CANCELLED;
      if (!cancelled) this.#o.onOutcome?.(workerId, false);
      throw err;
    } finally {
      opts.signal.removeEventListener("abort", onOuter);
      set.delete(local);
      if (set.size === 0) this.#pending.delete(workerId);
    }
  }
}
