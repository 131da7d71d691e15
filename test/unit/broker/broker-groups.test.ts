/**
 * The broker's equivalence classes of workers (value groups) and the cheapest spreading of a group's seats
 * over its members, the two pieces of the solver's symmetry breaking.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildCandidates, type CandidateSet } from "../../../coordinator/src/broker/candidates.js";
import { GroupFronts, paretoFront, spread } from "../../../coordinator/src/broker/group-fronts.js";
import { contiguousByKey, type ValueGroup } from "../../../coordinator/src/broker/groups.js";
import { plan } from "../../../coordinator/src/broker/plan.js";
import { resolveRequest } from "../../../coordinator/src/broker/request.js";
import type { BrokerWorker, PlanRequest } from "../../../coordinator/src/broker/types.js";
import { fits, workerRoundSeconds } from "../../../coordinator/src/broker/value.js";
import type { WorkerId } from "../../../proto/src/ids.js";

interface W {
  model?: string;
  family?: string;
  q?: number;
  reliability?: number;
  slots?: number;
  gen?: number;
  power?: number;
  tags?: string[];
}

function w(id: string, o: W = {}): BrokerWorker {
  const q = o.q ?? 0.6;
  const out: BrokerWorker = {
    workerId: id as WorkerId,
    modelKey: o.model ?? "M",
    modelName: o.model ?? "M",
    family: o.family ?? "F",
    slots: o.slots ?? 2,
    prefillTokensPerSecond: 1000,
    generationTokensPerSecond: o.gen ?? 100,
    tags: o.tags ?? ["general"],
    abilities: ["propose", "evaluate", "synthesize"],
    quality: { general: q, math: q, code: q, review: q },
    reliability: o.reliability ?? 1,
  };
  if (o.power !== undefined) out.powerWatts = o.power;
  return out;
}

const REQUEST: PlanRequest = {
  roles: [
    { name: "agent", min: 1, max: 4 },
    { name: "math", min: 0, max: 1, requiredTags: ["math"] },
    { name: "aggregator", min: 0, max: 1, agent: false, tokens: { prompt: 0, completion: 500 } },
  ],
  domain: "general",
  tokens: { prompt: 0, completion: 100 },
  latencyBudgetSeconds: 4,
};

function candidates(workers: readonly BrokerWorker[], req: PlanRequest = REQUEST): CandidateSet {
  return buildCandidates(workers, resolveRequest(workers, req));
}

/** Member ids of each group, in canonical order. */
function groupIds(set: CandidateSet): string[][] {
  return set.groups.map((g) => set.candidates.slice(g.first, g.end).map((c) => c.worker.workerId));
}

describe("value groups (the equivalence classes of workers)", () => {
  it("puts workers of one model, family and seat values together, whatever their costs", () => {
    const set = candidates([
      w("a", { gen: 100, slots: 1 }),
      w("b", { gen: 300, slots: 4, power: 200 }),
      w("c", { gen: 100, slots: 1 }),
    ]);
    expect(groupIds(set)).toEqual([["b", "a", "c"]]);
    expect(set.candidates.map((c) => c.group)).toEqual([0, 0, 0]);
  });

  it("separates what changes value or constraints: model, family, quality, reliability, tags", () => {
    const set = candidates([
      w("base"),
      w("model", { model: "N" }),
      w("family", { family: "G" }),
      w("quality", { q: 0.5 }),
      w("reliability", { reliability: 0.9 }),
      w("tags", { tags: ["general", "math"] }),
      w("twin"),
    ]);
    const groups = groupIds(set);
    expect(groups).toHaveLength(6);
    expect(groups).toContainEqual(["base", "twin"]);
    for (const id of ["model", "family", "quality", "reliability", "tags"])
      expect(groups).toContainEqual([id]);
  });

  it("keeps a worker that cannot run a class in time in its group, without that class", () => {
    // At 100 tok/s the aggregator (500 tokens) takes 5 s > the 4 s latency budget; at 200 tok/s 2.5 s.
    const set = candidates([w("slow", { gen: 100 }), w("fast", { gen: 200 })]);
    expect(set.groups).toHaveLength(1);
    const g = set.groups[0] as ValueGroup;
    const names = g.classes.map((gc) => set.req.roles[gc.roles[0] as number]?.name);
    expect(names).toEqual(["agent", "aggregator"]);
    expect(groupIds(set)).toEqual([["fast", "slow"]]);
    const agg = names.indexOf("aggregator");
    // Two aggregator seats on "fast" take 2.5 s × 1.25 = 3.1 s: within the budget.
    expect(g.caps[0]?.[agg]).toBe(2);
    expect(g.caps[1]?.[agg]).toBe(0);
    expect(g.seconds[1]?.[agg]).toBe(Number.POSITIVE_INFINITY);
    expect(Array.from(g.classCap)).toEqual([4, 2]);
  });

  it("is contiguous in canonical order and independent of the input order", () => {
    const pool = [
      w("x1", { model: "X", q: 0.9, gen: 50 }),
      w("y1", { model: "Y", q: 0.7, gen: 400 }),
      w("x2", { model: "X", q: 0.9, gen: 500 }),
      w("y2", { model: "Y", q: 0.7 }),
    ];
    const a = candidates(pool);
    const b = candidates([...pool].reverse());
    expect(groupIds(a)).toEqual([
      ["x2", "x1"],
      ["y1", "y2"],
    ]);
    expect(groupIds(b)).toEqual(groupIds(a));
  });

  it("contiguousByKey keeps first-appearance order of keys and the order within a key", () => {
    expect(contiguousByKey(["a1", "b1", "a2", "c1", "b2"], (s) => s[0] as string)).toEqual([
      "a1",
      "a2",
      "b1",
      "b2",
      "c1",
    ]);
  });
});

/** Every way to place exactly `v` seats (per group class) on the members, by enumeration. */
function allSpreads(
  set: CandidateSet,
  g: ValueGroup,
  v: readonly number[],
  latency: number,
): { seconds: number; joules: number; rows: number[][] }[] {
  const members = set.candidates.slice(g.first, g.end);
  const C = g.classes.length;
  const out: { seconds: number; joules: number; rows: number[][] }[] = [];
  const rows = members.map(() => new Array<number>(C).fill(0));
  const rec = (i: number, k: number): void => {
    if (i === members.length) {
      for (let q = 0; q < C; q++) if (rows.reduce((s, r) => s + (r[q] as number), 0) !== v[q]) return;
      let seconds = 0;
      let joules = 0;
      for (let m = 0; m < members.length; m++) {
        const c = members[m];
        const row = rows[m] as number[];
        if (!c) return;
        if (row.reduce((a, b) => a + b, 0) > c.slots) return;
        const secs: number[] = [];
        row.forEach((x, q) => {
          for (let j = 0; j < x; j++) secs.push(g.seconds[m]?.[q] as number);
        });
        if (secs.some((s) => !Number.isFinite(s))) return;
        const t = workerRoundSeconds(secs, c.sigma);
        if (secs.length > 0 && !fits(t, latency)) return;
        seconds += t;
        joules += t * c.watts;
      }
      out.push({ seconds, joules, rows: rows.map((r) => [...r]) });
      return;
    }
    if (k === C) {
      rec(i + 1, 0);
      return;
    }
    for (let x = 0; x <= (v[k] as number); x++) {
      (rows[i] as number[])[k] = x;
      rec(i, k + 1);
    }
    (rows[i] as number[])[k] = 0;
  };
  rec(0, 0);
  return out;
}

describe("group fronts (cheapest spreading of a group's seats)", () => {
  const memberArb = fc.record({
    slots: fc.integer({ min: 1, max: 3 }),
    gen: fc.constantFrom(50, 100, 100, 200),
    power: fc.constantFrom(100, 100, 250),
    sigma: fc.constantFrom(undefined, 0, 0.5, 1),
  });
  const caseArb = fc.record({
    members: fc.array(memberArb, { minLength: 1, maxLength: 4 }),
    v: fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 2 })),
    latency: fc.constantFrom(undefined, 3, 6),
    useJoules: fc.boolean(),
  });

  it("equals the Pareto front of a brute-force enumeration of the spreads", () => {
    let nonEmpty = 0;
    let multi = 0;
    fc.assert(
      fc.property(caseArb, ({ members, v, latency, useJoules }) => {
        const pool = members.map((m, i) => {
          const x = w(`m${i}`, { slots: m.slots, gen: m.gen, power: m.power });
          if (m.sigma !== undefined) x.concurrencySlowdown = m.sigma;
          return x;
        });
        const req: PlanRequest = {
          roles: [
            { name: "agent", min: 0, max: 8 },
            { name: "aggregator", min: 0, max: 8, agent: false, tokens: { prompt: 0, completion: 250 } },
          ],
          domain: "general",
          tokens: { prompt: 0, completion: 100 },
          ...(latency !== undefined ? { latencyBudgetSeconds: latency } : {}),
        };
        const set = candidates(pool, req);
        if (set.groups.length !== 1) return; // every member filtered out by the latency budget
        const g = set.groups[0] as ValueGroup;
        const L = latency ?? Number.POSITIVE_INFINITY;
        const vec = g.classes.map((gc) => (gc.agent ? v[0] : v[1]));
        const fronts = new GroupFronts(g, set.candidates.slice(g.first, g.end), {
          latencyBudgetSeconds: L,
          useJoules,
        });
        const front = fronts.front(vec);
        const all = allSpreads(set, g, vec, L);
        expect(front.length === 0).toBe(all.length === 0);
        if (front.length === 0) return;
        nonEmpty++;
        if (front.length > 1) multi++;
        const eps = (x: number) => 1e-9 * Math.max(1, Math.abs(x));
        for (let i = 1; i < front.length; i++)
          expect((front[i]?.seconds as number) >= (front[i - 1]?.seconds as number)).toBe(true);
        for (const p of front) {
          // Each point is a real spread of exactly v, costed right.
          const rows = spread(p, g.end - g.first, g.classes.length).map((r) => Array.from(r));
          const match = all.find((s) => JSON.stringify(s.rows) === JSON.stringify(rows));
          expect(match).toBeDefined();
          expect(Math.abs((match?.seconds as number) - p.seconds)).toBeLessThanOrEqual(eps(p.seconds));
          expect(Math.abs((match?.joules as number) - p.joules)).toBeLessThanOrEqual(eps(p.joules));
        }
        // Every spread is matched or beaten by a point of the front (in seconds, and joules when kept).
        for (const s of all) {
          const covered = front.some(
            (p) =>
              p.seconds <= s.seconds + eps(s.seconds) && (!useJoules || p.joules <= s.joules + eps(s.joules)),
          );
          expect(covered).toBe(true);
        }
        if (!useJoules) expect(front).toHaveLength(1);
      }),
      { numRuns: 300, seed: 424242 },
    );
    expect(nonEmpty).toBeGreaterThan(100);
    expect(multi).toBeGreaterThan(5);
  });

  it("breaks exact ties toward the earliest members (identical workers fill in id order)", () => {
    const set = candidates([w("c"), w("a"), w("b")], {
      roles: [{ name: "agent", min: 0, max: 4 }],
      domain: "general",
      tokens: { prompt: 0, completion: 100 },
    });
    const g = set.groups[0] as ValueGroup;
    const fronts = new GroupFronts(g, set.candidates.slice(g.first, g.end), {
      latencyBudgetSeconds: Number.POSITIVE_INFINITY,
      useJoules: false,
    });
    // σ = 0.25: two seats on one worker cost 1.25 s < two workers 2 s.
    const [p] = fronts.front([3]);
    expect(p && spread(p, 3, 1).map((r) => r[0])).toEqual([2, 1, 0]);
    expect(set.candidates.map((c) => c.worker.workerId)).toEqual(["a", "b", "c"]);
  });

  it("paretoFront drops dominated points and keeps the first of equal ones", () => {
    const pt = (seconds: number, joules: number) => ({ seconds, joules, take: null, rest: null });
    const a = pt(2, 10);
    const b = pt(1, 20);
    const c = pt(2, 10 + 1e-12);
    const d = pt(3, 30);
    const e = pt(3, 5);
    expect(paretoFront([a, b, c, d, e], true)).toEqual([b, a, e]);
    expect(paretoFront([a, b, c, d, e], true)[1]).toBe(a);
    expect(paretoFront([a, b, c, d, e], false)).toEqual([b]);
  });
});

describe("spreading work and the node limit", () => {
  it("a group too large to spread within the node limit stops the search like the limit does", () => {
    // 40 identical 8-slot workers asked for up to 48 seats of three classes: a large spreading table.
    const pool = Array.from({ length: 40 }, (_, i) => w(`w${String(i).padStart(2, "0")}`, { slots: 8 }));
    const req: PlanRequest = {
      roles: [
        { name: "agent", min: 2, max: 24 },
        { name: "aggregator", min: 1, max: 12, agent: false, tokens: { prompt: 0, completion: 300 } },
        {
          name: "chairman",
          min: 0,
          max: 12,
          agent: false,
          weight: 0.5,
          tokens: { prompt: 0, completion: 200 },
        },
      ],
      domain: "general",
      tokens: { prompt: 0, completion: 100 },
      maxNodes: 2000,
    };
    const p = plan(pool, req);
    expect(p.search.exact).toBe(false);
    expect(p.search.nodes).toBe(2001);
    expect(p.status).toBe("ok");
    if (p.status !== "ok") return;
    // The fallback is the greedy plan: feasible, every seat within its worker's slots.
    const perWorker = new Map<string, number>();
    for (const seat of p.seats) perWorker.set(seat.workerId, (perWorker.get(seat.workerId) ?? 0) + 1);
    for (const n of perWorker.values()) expect(n).toBeLessThanOrEqual(8);
    expect(p.search.upperBound).toBeGreaterThanOrEqual(p.totals.value - 1e-9);
  });
});
