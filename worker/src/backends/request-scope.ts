/**
 * One AbortSignal per request that fires on the caller's abort (or any further source, such as the backend
 * closing) OR on the deadline, and remembers which. The signal's reason is a BackendError (`cancelled` /
 * `deadline_exceeded`), so the slot queue can reject a waiting request with the right code and a running one
 * can report the right finishReason.
 *
 * Sources are followed with plain listeners that `dispose` removes, not with AbortSignal.any: on Node 20 a
 * long-lived source (the backend's closing signal) keeps a reference to every signal ever combined with it,
 * so each request would leak a little and make the next combination slower.
 */
import { BackendError } from "./errors.js";
import type { FinishReason } from "./types.js";

export interface RequestScope {
  readonly signal: AbortSignal;
  /** Why the scope was aborted, if it was (undefined after `halt`). */
  stoppedBy(): Extract<FinishReason, "cancelled" | "deadline"> | undefined;
  /**
   * Aborts the signal because the work ended on its own terms (a stop string was found): whatever watches the
   * signal stops, and `stoppedBy` stays undefined. One signal then serves both purposes, so a generation needs
   * no controller and listener of its own.
   */
  halt(): void;
  /** Clears the deadline timer and detaches from the caller's signal. Idempotent. */
  dispose(): void;
}

/** The reason of a halted scope's signal: not an error anyone reports, only what node-llama-cpp sees. */
const HALTED = new Error("generation ended (stop string)");

/** setTimeout fires at once for delays beyond 2^31−1 ms; longer deadlines are re-armed in steps. */
const MAX_TIMER_MS = 2_147_483_647;

export interface RequestScopeOptions {
  readonly signal?: AbortSignal;
  /** Further sources that cancel the request, e.g. the backend closing. */
  readonly alsoCancelledBy?: readonly AbortSignal[];
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
  const sources: AbortSignal[] = [];
  if (options.signal !== undefined) sources.push(options.signal);
  if (options.alsoCancelledBy !== undefined) sources.push(...options.alsoCancelledBy);
  for (const source of sources) {
    if (source.aborted) throw new BackendError("cancelled", "request cancelled", { cause: source.reason });
  }
  if (options.deadline !== undefined && options.deadline <= now()) {
    throw new BackendError("deadline_exceeded", "deadline already passed when the request arrived");
  }
  return new Scope(sources, options.deadline, now);
}

/**
 * One object per request, listening to its sources as an EventListener object (`handleEvent`) rather than
 * through per-request closures: a worker opens one scope per request, and this is its whole cost.
 */
class Scope implements RequestScope {
  readonly #controller = new AbortController();
  readonly #sources: readonly AbortSignal[];
  readonly #deadline: number | undefined;
  readonly #now: () => number;
  #stopped: "cancelled" | "deadline" | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #disposed = false;

  constructor(sources: readonly AbortSignal[], deadline: number | undefined, now: () => number) {
    this.#sources = sources;
    this.#deadline = deadline;
    this.#now = now;
    for (const source of sources) source.addEventListener("abort", this, { once: true });
    if (deadline !== undefined) this.#arm();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  stoppedBy(): "cancelled" | "deadline" | undefined {
    return this.#stopped;
  }

  halt(): void {
    if (!this.#controller.signal.aborted) this.#controller.abort(HALTED);
  }

  /** A source aborted (EventListener object protocol). */
  handleEvent(event: Event): void {
    const reason = (event.target as AbortSignal | null)?.reason;
    this.#stop("cancelled", new BackendError("cancelled", "request cancelled", { cause: reason }));
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    for (const source of this.#sources) source.removeEventListener("abort", this);
  }

  #stop(why: "cancelled" | "deadline", reason: BackendError): void {
    if (this.#controller.signal.aborted) return;
    this.#stopped = why;
    this.#controller.abort(reason);
  }

  #arm(): void {
    const remaining = (this.#deadline ?? 0) - this.#now();
    if (remaining <= 0) {
      this.#stop("deadline", new BackendError("deadline_exceeded", "deadline passed"));
      return;
    }
    this.#timer = setTimeout(() => this.#arm(), Math.min(remaining, MAX_TIMER_MS));
    // A pending deadline must not keep a draining worker alive.
    this.#timer.unref?.();
  }
}
