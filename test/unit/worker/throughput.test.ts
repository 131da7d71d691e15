import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ewma,
  insertionIndex,
  percentile,
  rate,
  sampleFromGeneration,
  type ThroughputSample,
  ThroughputTracker,
} from "../../../worker/src/throughput.js";

const sample = (over: Partial<ThroughputSample> = {}): ThroughputSample => ({
  prefillTokens: 100,
  prefillMs: 100,
  decodeTokens: 50,
  decodeMs: 500,
  latencyMs: 600,
  ...over,
});

describe("ewma", () => {
  it("seeds with the first value, then moves by alpha", () => {
    expect(ewma(undefined, 10, 0.2)).toBe(10);
    expect(ewma(10, 20, 0.2)).toBeCloseTo(12);
    expect(ewma(10, 20, 1)).toBe(20);
  });

  it("always lands between the previous value and the new one", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.double({ min: 0.001, max: 1, noNaN: true }),
        (prev, x, alpha) => {
          const next = ewma(prev, x, alpha);
          const lo = Math.min(prev, x);
          const hi = Math.max(prev, x);
          return next >= lo - 1e-6 * hi && next <= hi + 1e-6 * hi;
        },
      ),
    );
  });
});

describe("percentile", () => {
  it("uses nearest rank", () => {
    const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 95)).toBe(10);
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile([], 50)).toBeUndefined();
  });

  it("is an element of the data, within its range, and monotone in p", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1e5, noNaN: true }), { minLength: 1, maxLength: 200 }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        (data, p, q) => {
          const sorted = [...data].sort((a, b) => a - b);
          const a = percentile(sorted, Math.min(p, q)) as number;
          const b = percentile(sorted, Math.max(p, q)) as number;
          return sorted.includes(a) && a <= b && a >= (sorted[0] as number) && b <= (sorted.at(-1) as number);
        },
      ),
    );
  });
});

describe("insertionIndex", () => {
  it("finds where a value goes in a sorted array, before or after its equals", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 })), fc.integer({ min: -1, max: 21 }), (xs, v) => {
        const sorted = [...xs].sort((a, b) => a - b);
        const lower = insertionIndex(sorted, v);
        const upper = insertionIndex(sorted, v, true);
        return lower === sorted.filter((x) => x < v).length && upper === sorted.filter((x) => x <= v).length;
      }),
    );
  });
});

describe("rate and sampleFromGeneration", () => {
  it("skips samples without information", () => {
    expect(rate(0, 10)).toBeUndefined();
    expect(rate(10, 0)).toBeUndefined();
    expect(rate(10, 0.5)).toBeUndefined();
    expect(rate(10, 0.5, 0.1)).toBe(20_000);
    expect(rate(50, 500)).toBe(100);
  });

  it("counts the first token as prefill output and excludes cached prompt tokens", () => {
    expect(
      sampleFromGeneration(
        { promptTokens: 40, cachedPromptTokens: 10, completionTokens: 21, prefillMs: 5, generateMs: 20 },
        26,
      ),
    ).toEqual({ prefillTokens: 30, prefillMs: 5, decodeTokens: 20, decodeMs: 20, latencyMs: 26 });
  });
});

describe("ThroughputTracker", () => {
  it("is empty at first, then seeded by the self-benchmark without counting a sample", () => {
    const t = new ThroughputTracker();
    expect(t.snapshot()).toEqual({
      prefillTokensPerSecond: undefined,
      generationTokensPerSecond: undefined,
      latencyP50Ms: undefined,
      latencyP95Ms: undefined,
      samples: 0,
    });
    t.seed({ prefillTokensPerSecond: 2000, generationTokensPerSecond: 300 });
    expect(t.snapshot()).toMatchObject({
      prefillTokensPerSecond: 2000,
      generationTokensPerSecond: 300,
      samples: 0,
    });
  });

  it("moves the seeded rates towards real requests by alpha", () => {
    const t = new ThroughputTracker({ alpha: 0.5 });
    t.seed({ prefillTokensPerSecond: 2000, generationTokensPerSecond: 300 });
    t.record(sample({ prefillTokens: 100, prefillMs: 100, decodeTokens: 50, decodeMs: 500 }));
    const s = t.snapshot();
    expect(s.prefillTokensPerSecond).toBeCloseTo(1500); // (2000 + 1000) / 2
    expect(s.generationTokensPerSecond).toBeCloseTo(200); // (300 + 100) / 2
    expect(s.samples).toBe(1);
  });

  it("keeps a rate when a sample has nothing to say about it", () => {
    const t = new ThroughputTracker({ alpha: 0.5 });
    t.record(sample());
    t.record(sample({ decodeTokens: 0, decodeMs: 0 }));
    expect(t.snapshot().generationTokensPerSecond).toBeCloseTo(100);
  });

  it("computes latency percentiles over a bounded window of the most recent requests", () => {
    const t = new ThroughputTracker({ window: 4 });
    for (const latencyMs of [1000, 1000, 1000, 1000, 10, 20, 30, 40]) t.record(sample({ latencyMs }));
    const s = t.snapshot();
    expect(s.latencyP50Ms).toBe(20);
    expect(s.latencyP95Ms).toBe(40);
    expect(s.samples).toBe(8);
  });

  it("matches a brute-force percentile over the last `window` latencies", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 100 }),
        fc.integer({ min: 1, max: 20 }),
        (latencies, window) => {
          const t = new ThroughputTracker({ window });
          for (const latencyMs of latencies) t.record(sample({ latencyMs }));
          const recent = latencies.slice(-window).sort((a, b) => a - b);
          const s = t.snapshot();
          return s.latencyP50Ms === percentile(recent, 50) && s.latencyP95Ms === percentile(recent, 95);
        },
      ),
    );
  });

  it("answers repeated snapshots from memory, yet every seed and record shows in the next one", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant("record" as const), latencyMs: fc.integer({ min: 0, max: 5000 }) }),
            fc.record({ kind: fc.constant("seed" as const), rate: fc.integer({ min: 1, max: 5000 }) }),
            fc.record({ kind: fc.constant("snapshot" as const) }),
          ),
          { maxLength: 40 },
        ),
        (ops) => {
          const cached = new ThroughputTracker({ window: 8 });
          const fresh: ((t: ThroughputTracker) => void)[] = [];
          for (const op of ops) {
            if (op.kind === "record") {
              cached.record(sample({ latencyMs: op.latencyMs }));
              fresh.push((t) => t.record(sample({ latencyMs: op.latencyMs })));
            } else if (op.kind === "seed") {
              cached.seed({ generationTokensPerSecond: op.rate });
              fresh.push((t) => t.seed({ generationTokensPerSecond: op.rate }));
            } else {
              // A tracker that never answered from memory, replayed to the same point, must agree.
              const replay = new ThroughputTracker({ window: 8 });
              for (const apply of fresh) apply(replay);
              expect(cached.snapshot()).toEqual(replay.snapshot());
            }
          }
        },
      ),
    );
    const t = new ThroughputTracker();
    expect(t.snapshot()).toBe(t.snapshot());
  });

  it("rejects nonsense options", () => {
    expect(() => new ThroughputTracker({ alpha: 0 })).toThrow(RangeError);
    expect(() => new ThroughputTracker({ window: 0 })).toThrow(RangeError);
  });
});
