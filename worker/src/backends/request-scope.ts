/**
 * One AbortSignal per request that fires on the caller's abort OR on the deadline, and remembers which.
 * The signal's reason is a BackendError (`cancelled` / `deadline_exceeded`), so the slot queue can reject
 * a waiting request with the right code and a running one can report the right finishReason.
 */
import { BackendError } from "./errors.js";
import type { FinishReason } from "./types.js";

export interface RequestScope {
  readonly signal: AbortSignal;
  /** Why the scope was aborted, if it was. */
  stoppedBy(): Extract<FinishReason, "cancelled" | "deadline"> | undefined;
  /** Clears the deadline timer and detaches from the caller's signal. Idempotent. */
  dispose(): void;
}

/** setTimeout fires at once for delays beyond 2^31−1 ms; longer deadlines are re-armed in steps. */
const MAX_TIMER_MS = 2_147_483_647;

export interface RequestScopeOptions {
  readonly signal?: AbortSignal;
  /** Absolute deadline, Unix ms. */
  readonly deadline?: number;
  /** Wall clock in Unix ms (deadlines are wall-clock times from another machine). @default Date.now */
  readonly now?: () => number;
}

/**
 * Opens a scope; throws `cancelled` / `deadline_exceeded` when the request is dead on arrival, so it never
 * takes a slot.
 */
export function openRequestScope(options: RequestScopeOptions): RequestScope {
  const now = options.now ?? Date.now;
  const caller = options.signal;
  if (caller?.aborted) throw new BackendError("cancelled", "request cancelled", { cause: caller.reason });
  if (options.deadline !== undefined && options.deadline <= now()) {
    throw new BackendError("deadline_exceeded", "deadline already passed when the request arrived");
  }
  const controller = new AbortController();
  let stopped: "cancelled" | "deadline" | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const stop = (why: "cancelled" | "deadline", reason: BackendError): void => {
    if (controller.signal.aborted) return;
    stopped = why;
    controller.abort(reason);
  };
  const onCallerAbort = (): void =>
    stop("cancelled", new BackendError("cancelled", "request cancelled", { cause: caller?.reason }));
  caller?.addEventListener("abort", onCallerAbort, { once: true });

  const deadline = options.deadline;
  const arm = (): void => {
    if (deadline === undefined) return;
    const remaining = deadline - now();
    if (remaining <= 0) {
      stop("deadline", new BackendError("deadline_exceeded", "deadline passed"));
      return;
    }
    timer = setTimeout(arm, Math.min(remaining, MAX_TIMER_MS));
    // A pending deadline must not keep a draining worker alive.
    timer.unref?.();
  };
  arm();

  return {
    signal: controller.signal,
    stoppedBy: () => stopped,
    dispose: () => {
      if (timer !== undefined) clearTimeout(timer);
      caller?.removeEventListener("abort", onCallerAbort);
    },
  };
}
