import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_RETENTION,
  jobsToForget,
  nextExpiryInMs,
  type RetainedJob,
  RetainedJobs,
  rememberNewest,
} from "../../../coordinator/src/jobs/retention.js";

const job = (jobId: string, persistedAtMs: number, watched = false): RetainedJob => ({
  jobId,
  persistedAtMs,
  watched,
});

describe("jobsToForget", () => {
  const policy = { maxJobs: 2, maxAgeMs: 1000 };

  it("keeps the newest maxJobs and forgets the oldest beyond them", () => {
    const retained = [job("a", 100), job("b", 200), job("c", 300), job("d", 400)];
    expect(jobsToForget(retained, 500, policy)).toEqual(["a", "b"]);
  });

  it("forgets every job past its age, however few are kept", () => {
    expect(jobsToForget([job("a", 0), job("b", 999)], 1000, policy)).toEqual(["a"]);
    expect(jobsToForget([job("a", 0), job("b", 0)], 5000, policy)).toEqual(["a", "b"]);
  });

  it("never forgets a watched job, and counts it against the bound", () => {
    const retained = [job("a", 100, true), job("b", 200), job("c", 300)];
    // a stays (watched) and takes one of the two places: only c, the newest, stays beside it.
    expect(jobsToForget(retained, 500, policy)).toEqual(["b"]);
    // Even expired.
    expect(jobsToForget([job("a", 0, true)], 10_000, policy)).toEqual([]);
  });

  it("forgets nothing when within both bounds", () => {
    expect(jobsToForget([job("a", 100), job("b", 200)], 500, policy)).toEqual([]);
    expect(jobsToForget([], 500, policy)).toEqual([]);
  });

  it("property: what stays is at most maxJobs unwatched-or-watched (unless watched ones alone exceed it), all fresh, all watched ones kept", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 5000 }), watched: fc.boolean() }), {
          maxLength: 40,
        }),
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 1, max: 3000 }),
        fc.integer({ min: 0, max: 8000 }),
        (specs, maxJobs, maxAgeMs, now) => {
          const retained = specs.map((s, i) => job(`j${i}`, s.at, s.watched));
          const forgotten = new Set(jobsToForget(retained, now, { maxJobs, maxAgeMs }));
          const kept = retained.filter((j) => !forgotten.has(j.jobId));
          const watched = retained.filter((j) => j.watched);
          expect(watched.every((j) => !forgotten.has(j.jobId))).toBe(true);
          expect(kept.filter((j) => !j.watched).every((j) => now - j.persistedAtMs < maxAgeMs)).toBe(true);
          expect(kept.length).toBeLessThanOrEqual(Math.max(maxJobs, watched.length));
          // Of the fresh unwatched jobs, the ones kept are the newest in finish order.
          const fresh = retained.filter((j) => !j.watched && now - j.persistedAtMs < maxAgeMs);
          const keptFresh = fresh.filter((j) => !forgotten.has(j.jobId));
          expect(keptFresh).toEqual(fresh.slice(fresh.length - keptFresh.length));
          expect(keptFresh.length).toBe(Math.min(fresh.length, Math.max(0, maxJobs - watched.length)));
        },
      ),
    );
  });

  it("has a bounded default", () => {
    expect(DEFAULT_RETENTION.maxJobs).toBeGreaterThan(0);
    expect(DEFAULT_RETENTION.maxAgeMs).toBeGreaterThan(0);
  });
});

describe("nextExpiryInMs", () => {
  it("is the time until the oldest expires, never negative; none when nothing is retained", () => {
    const policy = { maxJobs: 5, maxAgeMs: 1000 };
    expect(nextExpiryInMs([], 0, policy)).toBeUndefined();
    expect(nextExpiryInMs([job("a", 300), job("b", 100)], 600, policy)).toBe(500);
    expect(nextExpiryInMs([job("a", 0)], 5000, policy)).toBe(0);
  });
});

describe("rememberNewest", () => {
  it("keeps the newest entries, and setting a key again makes it the newest", () => {
    const m = new Map<string, number>();
    for (const [k, v] of [
      ["a", 1],
      ["b", 2],
      ["c", 3],
    ] as const)
      rememberNewest(m, k, v, 2);
    expect([...m]).toEqual([
      ["b", 2],
      ["c", 3],
    ]);
    rememberNewest(m, "b", 20, 2);
    rememberNewest(m, "d", 4, 2);
    expect([...m]).toEqual([
      ["b", 20],
      ["d", 4],
    ]);
  });
});

describe("RetainedJobs", () => {
  it("forgets the oldest beyond the bound, never a watched one, and nothing after close", () => {
    const forgotten: string[] = [];
    const watched = new Set(["j1"]);
    const jobs = new RetainedJobs({
      policy: { maxJobs: 2, maxAgeMs: 60_000 },
      now: () => 1000,
      watched: (id) => watched.has(id),
      forget: (id) => forgotten.push(id),
    });
    for (const id of ["j1", "j2", "j3"]) jobs.add(id);
    expect(forgotten).toEqual(["j2"]); // j1 is watched and holds one of the two places
    watched.clear();
    jobs.add("j4"); // j1, j3, j4 held: the oldest goes
    expect(forgotten).toEqual(["j2", "j1"]);
    jobs.close();
    jobs.add("j5");
    expect(forgotten).toEqual(["j2", "j1"]);
  });
});
