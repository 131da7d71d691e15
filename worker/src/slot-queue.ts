/**
 * Admission control for a backend's parallel sequences: N slots, a bounded FIFO of waiters
 * (`queuePerSlot × N` places), `busy` at once when it is full, and removal of a waiter whose signal aborts.
 *
 * One FIFO shared by all slots (rather than one queue per slot) so a request never waits behind a long
 * generation while another slot is free; the bound is still expressed per slot, as telemetry reports it.
 * No timers and no clock reads beyond the injected `now`: every transition happens synchronously inside
 * `acquire`, `release`, an abort event or `close`.
 */
import { BackendError } from "./backends/errors.js";
import type { SlotStats } from "./backends/types.js";

export interface SlotQueueOptions {
  /** Parallel slots (≥ 1). */
  readonly slots: number;
  /** Waiting places per slot (≥ 0). @default 4 */
  readonly queuePerSlot?: number;
  /** Monotonic clock in ms, injected for tests. @default performance.now */
  readonly now?: () => number;
}

/** A held slot. `release` is idempotent. */
export interface SlotLease {
  /** Which slot (0 … slots−1); a slot is held by at most one lease at a time. */
  readonly slot: number;
  /** How long the request waited in the queue. */
  readonly queuedMs: number;
  release(): void;
}

interface Waiter {
  readonly enqueuedAt: number;
  readonly resolve: (lease: SlotLease) => void;
  readonly reject: (err: unknown) => void;
  readonly detach: () => void;
}

/** The error a waiter gets when its signal aborts: the signal's BackendError reason, else `cancelled`. */
export function abortReasonToError(reason: unknown): BackendError {
  if (reason instanceof BackendError) return reason;
  return new BackendError("cancelled", "request cancelled", { cause: reason });
}

export class SlotQueue {
  readonly slots: number;
  readonly queuePerSlot: number;
  readonly #now: () => number;
  /** Free slot indexes, lowest first so slot use is predictable. */
  readonly #free: number[];
  readonly #waiters: Waiter[] = [];
  readonly #listeners = new Set<(stats: SlotStats) => void>();
  #closed: Error | undefined;

  constructor(options: SlotQueueOptions) {
    const queuePerSlot = options.queuePerSlot ?? 4;
    const problems: string[] = [];
    if (!Number.isSafeInteger(options.slots) || options.slots < 1)
      problems.push("slots must be an integer ≥ 1");
    if (!Number.isSafeInteger(queuePerSlot) || queuePerSlot < 0) {
      problems.push("queuePerSlot must be an integer ≥ 0");
    }
    if (problems.length > 0) throw new RangeError(problems.join("; "));
    this.slots = options.slots;
    this.queuePerSlot = queuePerSlot;
    this.#now = options.now ?? (() => performance.now());
    this.#free = Array.from({ length: options.slots }, (_, i) => i);
  }

  /** Total waiting places. */
  get queueCapacity(): number {
    return this.slots * this.queuePerSlot;
  }

  stats(): SlotStats {
    return {
      total: this.slots,
      active: this.slots - this.#free.length,
      queued: this.#waiters.length,
      queueLimit: this.queuePerSlot,
    };
  }

  /** Called after every change of active/queued counts; returns the unsubscribe. */
  onChange(listener: (stats: SlotStats) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * A free slot at once, else a place in the queue. Rejects with `busy` when the queue is full, with the
   * signal's reason (see `abortReasonToError`) when it aborts while waiting, and with the close error after
   * `close`.
   */
  acquire(signal?: AbortSignal): Promise<SlotLease> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (signal?.aborted) return Promise.reject(abortReasonToError(signal.reason));
    const enqueuedAt = this.#now();
    const slot = this.#free.shift();
    if (slot !== undefined) {
      const lease = this.#lease(slot, enqueuedAt);
      this.#emit();
      return Promise.resolve(lease);
    }
    if (this.#waiters.length >= this.queueCapacity) {
      return Promise.reject(
        new BackendError(
          "busy",
          `all ${this.slots} slots are busy and the queue is full (${this.#waiters.length} waiting)`,
        ),
      );
    }
    return new Promise<SlotLease>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.#waiters.indexOf(waiter);
        if (index < 0) return;
        this.#waiters.splice(index, 1);
        reject(abortReasonToError(signal?.reason));
        this.#emit();
      };
      const waiter: Waiter = {
        enqueuedAt,
        resolve,
        reject,
        detach: () => signal?.removeEventListener("abort", onAbort),
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#emit();
    });
  }

  /** Rejects every waiter and every later `acquire` with `reason`; held leases stay valid until released. */
  close(reason: Error = new BackendError("unavailable", "backend is closing")): void {
    if (this.#closed) return;
    this.#closed = reason;
    const waiters = this.#waiters.splice(0);
    for (const waiter of waiters) {
      waiter.detach();
      waiter.reject(reason);
    }
    if (waiters.length > 0) this.#emit();
  }

  #lease(slot: number, enqueuedAt: number): SlotLease {
    let released = false;
    return {
      slot,
      queuedMs: Math.max(0, this.#now() - enqueuedAt),
      release: () => {
        if (released) return;
        released = true;
        this.#handOver(slot);
      },
    };
  }

  /** A released slot goes straight to the oldest waiter, else back to the free list. */
  #handOver(slot: number): void {
    const waiter = this.#waiters.shift();
    if (waiter === undefined) {
      this.#free.push(slot);
      this.#free.sort((a, b) => a - b);
    } else {
      waiter.detach();
      waiter.resolve(this.#lease(slot, waiter.enqueuedAt));
    }
    this.#emit();
  }

  #emit(): void {
    if (this.#listeners.size === 0) return;
    const stats = this.stats();
    for (const listener of this.#listeners) listener(stats);
  }
}
