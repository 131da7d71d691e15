/**
 * How long a finished job stays in the coordinator's memory. A finished job's full event log (every
 * prompt, proposal and evaluation) is about 1 MB for 8 agents × 6 rounds; it is already durable in
 * JetStream, and watch/transcript/get replay it from there once it is gone from memory. Keeping it for a
 * while only makes a late watcher cheaper. A time limit alone lets memory grow with the job rate (at 20 jobs
 * a second, 60 s is 1,200 jobs), so the number kept is bounded too. The policy is pure; RetainedJobs at
 * the end is its thin shell (the held jobs and one timer).
 */

export interface RetentionPolicy {
  /** Finished jobs kept in memory at most; the oldest go first. */
  readonly maxJobs: number;
  /** A finished job leaves memory this long after it was fully persisted. */
  readonly maxAgeMs: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { maxJobs: 32, maxAgeMs: 60_000 };

/** A finished, fully persisted job still held in memory. */
export interface RetainedJob {
  readonly jobId: string;
  /** When its last event was acknowledged by the store. */
  readonly persistedAtMs: number;
  /** A watcher is waiting on it right now (never forgotten under a watcher). */
  readonly watched: boolean;
}

/**
 * Which retained jobs to forget now: every one past `maxAgeMs`, then the oldest beyond `maxJobs`, never
 * one that is being watched. `retained` is in the order the jobs finished (oldest first).
 */
export function jobsToForget(
  retained: readonly RetainedJob[],
  nowMs: number,
  policy: RetentionPolicy,
): string[] {
  const unwatched = retained.filter((j) => !j.watched);
  const expired = unwatched.filter((j) => nowMs - j.persistedAtMs >= policy.maxAgeMs);
  const fresh = unwatched.filter((j) => nowMs - j.persistedAtMs < policy.maxAgeMs);
  // Watched jobs stay whatever the bound, but they take up its room.
  const room = Math.max(0, policy.maxJobs - (retained.length - unwatched.length));
  const excess = fresh.slice(0, Math.max(0, fresh.length - room));
  return [...expired, ...excess].map((j) => j.jobId);
}

/** The delay until the oldest retained job expires (for one timer); undefined when none is retained. Pure. */
export function nextExpiryInMs(
  retained: readonly RetainedJob[],
  nowMs: number,
  policy: RetentionPolicy,
): number | undefined {
  if (retained.length === 0) return undefined;
  const oldest = Math.min(...retained.map((j) => j.persistedAtMs));
  return Math.max(0, oldest + policy.maxAgeMs - nowMs);
}

/** Sets `key` as the newest entry of an insertion-ordered map and drops the oldest beyond `max`. */
export function rememberNewest<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
}

/** A retained job still being watched when it expired is looked at again this much later. */
const MIN_SWEEP_DELAY_MS = 250;

/**
 * The shell around the policy: which finished jobs are held, and one unref'd timer that forgets them when
 * they expire. `forget` is called once per job let go.
 */
export class RetainedJobs {
  readonly #persistedAt = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    private readonly o: {
      policy: RetentionPolicy;
      now: () => number;
      watched: (jobId: string) => boolean;
      forget: (jobId: string) => void;
    },
  ) {}

  /** A finished job whose events are all durable; it may leave memory from now on. */
  add(jobId: string): void {
    if (this.#closed) return;
    this.#persistedAt.set(jobId, this.o.now());
    this.sweep();
  }

  /** Forgets what the policy lets go and re-arms the timer for the next expiry. */
  sweep(): void {
    const now = this.o.now();
    const retained = [...this.#persistedAt].map(([jobId, persistedAtMs]) => ({
      jobId,
      persistedAtMs,
      watched: this.o.watched(jobId),
    }));
    for (const jobId of jobsToForget(retained, now, this.o.policy)) {
      this.#persistedAt.delete(jobId);
      this.o.forget(jobId);
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const rest = retained.filter((j) => this.#persistedAt.has(j.jobId));
    const delay = nextExpiryInMs(rest, now, this.o.policy);
    if (delay === undefined || this.#closed) return;
    this.#timer = setTimeout(() => this.sweep(), Math.max(MIN_SWEEP_DELAY_MS, delay));
    this.#timer.unref();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }
}
