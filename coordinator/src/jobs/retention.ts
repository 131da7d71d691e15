/**
 * How long a finished job stays in the coordinator's memory. A finished job's full event log (every
 * prompt, proposal and evaluation) is about 1 MB for 8 agents × 6 rounds; it is already durable in
 * JetStream, and watch/transcript/get replay it from there once it is gone from memory. Keeping it for a
 * while only makes a late watcher cheaper. A time limit alone lets memory grow with the job rate (at 20 jobs
 * a second, 60 s is 1,200 jobs), so the number kept is bounded too. Pure.
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
