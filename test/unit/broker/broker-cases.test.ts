/** Hand-built broker cases whose optimum is worked out in the comments. */
import { describe, expect, it } from "vitest";
import {
  BrokerRequestError,
  type BrokerWorker,
  brokerWorkersFromRegistry,
  diffPlans,
  moaRoles,
  nsedRoles,
  type Plan,
  type PlanRequest,
  plan,
} from "../../../coordinator/src/broker/index.js";
import {
  DEFAULT_PROFILES,
  emptyQualityStats,
  modelKey,
  recordDeliberationOutcome,
} from "../../../coordinator/src/profiles/index.js";
import {
  applyRegistryInput,
  emptyRegistry,
  type RegistryState,
  type ReportedWorkerState,
  resolveRegistryConfig,
  type WorkerObservation,
} from "../../../coordinator/src/registry/index.js";
import type { WorkerId } from "../../../proto/src/ids.js";

interface W {
  q?: number;
  slots?: number;
  family?: string;
  model?: string;
  gen?: number;
  power?: number;
  sigma?: number;
  tags?: string[];
  abilities?: BrokerWorker["abilities"];
  reliability?: number;
}

/** With tokens {prompt: 0, completion: 100} a worker at `gen` 100 tok/s takes 1 s per seat. */
function w(id: string, o: W = {}): BrokerWorker {
  const q = o.q ?? 0.5;
  const out: BrokerWorker = {
    workerId: id as WorkerId,
    modelKey: o.model ?? id,
    modelName: o.model ?? id,
    family: o.family ?? id,
    slots: o.slots ?? 1,
    prefillTokensPerSecond: 1000,
    generationTokensPerSecond: o.gen ?? 100,
    tags: o.tags ?? ["general"],
    abilities: o.abilities ?? ["propose", "evaluate", "synthesize"],
    quality: { general: q, math: q, code: q, review: q },
    reliability: o.reliability ?? 1,
  };
  if (o.power !== undefined) out.powerWatts = o.power;
  if (o.sigma !== undefined) out.concurrencySlowdown = o.sigma;
  return out;
}

const TOKENS = { prompt: 0, completion: 100 };
const agents = (min: number, max: number): PlanRequest => ({
  roles: [{ name: "agent", min, max }],
  domain: "general",
  tokens: TOKENS,
});

function ok(p: Plan) {
  if (p.status !== "ok") throw new Error(`expected a plan, got infeasible: ${p.reason}`);
  return p;
}
const seatsOf = (p: Plan) => p.seats.map((s) => s.workerId).sort();
const reasonOf = (p: Plan, id: string) => p.exclusions.find((e) => e.workerId === id)?.reason;

describe("Self-MoA vs mixture", () => {
  it("one strong worker with 4 slots beats 4 weak ones: all seats on the strong model", () => {
    // strong ×4 = 0.9·(1 + .8 + .64 + .512) = 2.657 > strong ×3 + weak = 2.196 + 0.4 = 2.596 > 4 weak = 1.6
    const p = ok(
      plan(
        [w("strong", { q: 0.9, slots: 4 }), ...["a", "b", "c", "d"].map((id) => w(id, { q: 0.4 }))],
        agents(2, 4),
      ),
    );
    expect(seatsOf(p)).toEqual(["strong", "strong", "strong", "strong"]);
    expect(p.totals.value).toBeCloseTo(0.9 * 2.952, 12);
    // 4 parallel sequences at σ = 0.25: 1 s × (1 + 0.25·3)
    expect(p.totals.computeSeconds).toBeCloseTo(1.75, 12);
    expect(p.seats[3]?.reason).toBe(
      "chosen: value 0.461 = quality[general] 0.90 × reliability 1.00 × 0.8^3 as the 4th seat of model strong; " +
        "1.75 s per round with 4 seats on this worker (Self-MoA), adds 0.25 s of compute",
    );
    expect(reasonOf(p, "a")).toBe(
      "not chosen: every role it can take (agent) is full; replacing a agent seat of strong would lower total value from 2.657 to 2.596",
    );
  });

  it("comparable models mix: one seat each beats stacking the best", () => {
    // .70 + .68 + .66 + .65 = 2.69 > .70·1.8 + .68 + .66 = 2.60
    const pool = [0.7, 0.68, 0.66, 0.65].map((q, i) => w(`m${i}`, { q, slots: 4 }));
    const p = ok(plan(pool, agents(2, 4)));
    expect(seatsOf(p)).toEqual(["m0", "m1", "m2", "m3"]);
    expect(p.totals.value).toBeCloseTo(2.69, 12);
  });

  it("the repeat decay is the knob between the two", () => {
    // ρ = 0.5: strong ×2 + 2 weak = 0.9 + 0.45 + 0.8 = 2.15 beats strong + 3 weak = 2.1 and strong ×4 = 1.6875
    const pool = [w("strong", { q: 0.9, slots: 4 }), ...["a", "b", "c", "d"].map((id) => w(id, { q: 0.4 }))];
    const p = ok(plan(pool, { ...agents(2, 4), repeatDecay: 0.5 }));
    expect(seatsOf(p)).toEqual(["a", "b", "strong", "strong"]);
    // ρ = 1: samples count as independent, so the best model takes every seat it can.
    const p1 = ok(plan(pool, { ...agents(2, 4), repeatDecay: 1 }));
    expect(seatsOf(p1)).toEqual(["strong", "strong", "strong", "strong"]);
  });

  it("the same model on two workers decays as one model", () => {
    // Two workers of model X (0.8), one of Y (0.6), 2 seats. ρ = 0.8: X + X = 0.8 + 0.64 = 1.44 > X + Y = 1.4;
    // ρ = 0.7: X + X = 1.36 < 1.4, so X + Y.
    const pool = [w("x1", { q: 0.8, model: "X" }), w("x2", { q: 0.8, model: "X" }), w("y", { q: 0.6 })];
    expect(seatsOf(ok(plan(pool, agents(2, 2))))).toEqual(["x1", "x2"]);
    expect(seatsOf(ok(plan(pool, { ...agents(2, 2), repeatDecay: 0.7 })))).toEqual(["x1", "y"]);
  });
});

describe("constraints", () => {
  it("diversity cap: at most k seats per family, and the excluded worker is told why", () => {
    const pool = [
      w("l1", { q: 0.8, family: "llama" }),
      w("l2", { q: 0.78, family: "llama" }),
      w("l3", { q: 0.76, family: "llama" }),
      w("q1", { q: 0.6, family: "qwen" }),
      w("q2", { q: 0.58, family: "qwen" }),
    ];
    expect(seatsOf(ok(plan(pool, agents(2, 4))))).toEqual(["l1", "l2", "l3", "q1"]);
    const p = ok(plan(pool, { ...agents(2, 4), diversityCap: 2 }));
    expect(seatsOf(p)).toEqual(["l1", "l2", "q1", "q2"]);
    expect(p.totals.seatsByFamily).toEqual({ llama: 2, qwen: 2 });
    expect(reasonOf(p, "l3")).toMatch(/^not chosen: family llama already has 2 seats \(diversity cap 2\)/);
  });

  it("latency budget filters slow workers with the numbers, and limits concurrent seats", () => {
    const pool = [
      w("slow", { q: 0.99, gen: 2 }), // 50 s per round
      w("stack", { q: 0.9, slots: 4, gen: 10, sigma: 1 }), // 10 s per seat, fully serialised
      w("a", { q: 0.3 }),
      w("b", { q: 0.3 }),
    ];
    const p = ok(plan(pool, { ...agents(2, 4), latencyBudgetSeconds: 30, repeatDecay: 1 }));
    expect(reasonOf(p, "slow")).toBe(
      "excluded: role agent: expected 50.0 s per round > latency budget 30.0 s",
    );
    // 3 serialised seats would take 30 s (fits exactly), a 4th 40 s: so 3 on `stack`, then one more.
    expect(seatsOf(p)).toEqual(["a", "stack", "stack", "stack"]);
    expect(p.seats.find((s) => s.workerId === "stack")?.expectedSeconds).toBeCloseTo(30, 12);
  });

  it("compute budget is a knapsack: value per second wins when the budget binds", () => {
    // Budget 2.5 s. A (0.9, 2 s) + D (0.3, 0.5 s) = 1.2; B + C + D (0.6 + 0.5 + 0.3, 2.5 s) = 1.4.
    const pool = [
      w("A", { q: 0.9, gen: 50 }),
      w("B", { q: 0.6 }),
      w("C", { q: 0.5 }),
      w("D", { q: 0.3, gen: 200 }),
    ];
    const p = ok(plan(pool, { ...agents(2, 3), computeBudgetSeconds: 2.5 }));
    expect(seatsOf(p)).toEqual(["B", "C", "D"]);
    expect(p.totals.computeSeconds).toBeCloseTo(2.5, 12);
    expect(reasonOf(p, "A")).toMatch(
      /^not chosen: every role it can take \(agent\) is full; no swap fits: .*compute \S+ s > budget 2\.5 s/,
    );
  });

  it("energy budget: watts × seconds; unknown power is excluded unless a power is assumed", () => {
    const pool = [
      w("hot", { q: 0.9, power: 400 }),
      w("cool1", { q: 0.8, power: 100 }),
      w("cool2", { q: 0.7, power: 100 }),
      w("unknown", { q: 0.95 }),
    ];
    const req = { ...agents(2, 2), energyBudgetJoules: 250 };
    const p = ok(plan(pool, req));
    expect(seatsOf(p)).toEqual(["cool1", "cool2"]);
    expect(p.totals.energyJoules).toBeCloseTo(200, 9);
    expect(p.seats[0]?.costJoules).toBeCloseTo(100, 9);
    expect(reasonOf(p, "unknown")).toMatch(/^excluded: power draw unknown and an energy budget is set/);
    expect(reasonOf(p, "hot")).toMatch(/energy 500\.0 J > budget 250 J/);
    const assumed = ok(plan(pool, { ...req, assumedPowerWatts: 100 }));
    expect(seatsOf(assumed)).toEqual(["cool1", "unknown"]);
  });

  it("every slot is seated at most once; unavailable workers are listed with their reason", () => {
    const pool = [
      w("a", { q: 0.9, slots: 2 }),
      { ...w("gone", { q: 1, slots: 4 }), unavailableReason: "suspect: no telemetry for 7.0 s" },
    ];
    const p = ok(plan(pool, { ...agents(2, 6), repeatDecay: 1 }));
    expect(seatsOf(p)).toEqual(["a", "a"]);
    expect(reasonOf(p, "gone")).toBe("excluded: suspect: no telemetry for 7.0 s");
  });

  it("domain seats need their tags; off-domain models are discounted", () => {
    const pool = [
      w("mathy", { q: 0.6, tags: ["general", "math"] }),
      w("general", { q: 0.65 }),
      w("other", { q: 0.5 }),
    ];
    const req: PlanRequest = {
      roles: nsedRoles({ min: 1, max: 1 }, [{ tag: "math", max: 1 }]),
      domain: "math",
      tokens: TOKENS,
    };
    const p = ok(plan(pool, req));
    expect(p.seats.map((s) => `${s.role}:${s.workerId}`)).toEqual(["agent:general", "math:mathy"]);
    // general: 0.65 × 0.85 off-domain
    expect(p.seats[0]?.value).toBeCloseTo(0.65 * 0.85, 12);
    expect(p.seats[0]?.reason).toMatch(/off-domain match 0\.85/);
  });
});

describe("MoA roles and infeasible plans", () => {
  it("MoA: the aggregator needs synthesis and reads a longer prompt", () => {
    const pool = [
      w("arith", { q: 0.9, abilities: ["propose", "evaluate"], tags: ["math"] }),
      w("big", { q: 0.7 }),
      w("small", { q: 0.4 }),
    ];
    const req: PlanRequest = {
      roles: moaRoles({ min: 2, max: 2 }, { prompt: 0, completion: 300 }),
      domain: "general",
      tokens: TOKENS,
    };
    const p = ok(plan(pool, req));
    expect(p.seats.map((s) => `${s.role}:${s.workerId}`)).toEqual([
      "proposer:arith",
      "proposer:big",
      "aggregator:small",
    ]);
    expect(p.seats[2]?.expectedSeconds).toBeCloseTo(3, 12);
  });

  it("infeasible with the reason: an aggregator nobody can be", () => {
    const pool = ["a", "b"].map((id) => w(id, { abilities: ["propose", "evaluate"], tags: ["math"] }));
    const p = plan(pool, { roles: moaRoles({ min: 2, max: 2 }), domain: "math", tokens: TOKENS });
    expect(p.status).toBe("infeasible");
    if (p.status !== "infeasible") return;
    expect(p.reason).toBe(
      "role aggregator needs 1 seat(s) but only 0 can be filled (it needs ability synthesize within the latency budget)",
    );
    expect(p.exclusions).toHaveLength(2);
    for (const e of p.exclusions)
      expect(e.reason).toMatch(/^not seated: no feasible plan \(role aggregator needs/);
  });

  it("infeasible: fewer than 2 agents possible", () => {
    const p = plan([w("only", { slots: 1 })], agents(1, 4));
    expect(p.status).toBe("infeasible");
    if (p.status === "infeasible")
      expect(p.reason).toBe("at most 1 agent seat(s) can be filled; at least 2 agents are required");
  });

  it("infeasible: the budget cannot cover the minimum seats", () => {
    const p = plan([w("a", { slots: 2 }), w("b")], { ...agents(2, 2), computeBudgetSeconds: 0.5 });
    expect(p.status).toBe("infeasible");
    if (p.status === "infeasible")
      expect(p.reason).toBe(
        "compute budget 0.50 s is below the cheapest way to fill the 2 required seats (at least 1.25 s)",
      );
  });

  it("rejects invalid requests listing every problem", () => {
    try {
      plan([w("a"), w("a")], {
        roles: [
          { name: "x", min: 3, max: 1 },
          { name: "x", min: 0, max: 1, abilities: ["fly" as never] },
        ],
        domain: "poetry" as never,
        tokens: { prompt: -1, completion: 1 },
        repeatDecay: 2,
        diversityCap: 0,
      });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(BrokerRequestError);
      expect((err as BrokerRequestError).details).toEqual([
        "workers[1]: duplicate worker id a",
        "roles[0] (x): min 3 is greater than max 1",
        'roles[1]: duplicate role name "x"',
        'roles[1] (x): unknown ability "fly"',
        'domain must be one of general, math, code, review, got "poetry"',
        "tokens.prompt must be a non-negative number, got -1",
        "diversityCap must be an integer ≥ 1, got 0",
        "repeatDecay must be in [0, 1], got 2",
      ]);
    }
  });
});

describe("ties and re-planning", () => {
  it("ties go to the lower worker id, whatever the input order", () => {
    const pool = [w("w-b", { q: 0.5 }), w("w-a", { q: 0.5 }), w("w-c", { q: 0.5 })];
    const p = ok(plan(pool, { ...agents(1, 1), minAgents: 1 }));
    expect(seatsOf(p)).toEqual(["w-a"]);
    expect(reasonOf(p, "w-b")).toMatch(/would tie; the tie-break prefers earlier candidates/);
    // Identical workers of one model: seats fill in id order.
    const same = ["z", "y", "x"].map((id) => w(id, { q: 0.5, model: "M", family: "F" }));
    expect(seatsOf(ok(plan(same, agents(2, 2))))).toEqual(["x", "y"]);
  });

  it("on equal value the cheaper plan wins", () => {
    const p = ok(
      plan(
        [w("slow", { q: 0.5, gen: 50 }), w("fast", { q: 0.5, gen: 200 }), w("mid", { q: 0.5 })],
        agents(2, 2),
      ),
    );
    expect(seatsOf(p)).toEqual(["fast", "mid"]);
  });

  it("the node limit stops the search with a feasible, flagged plan and a proven bound", () => {
    const pool = [0.9, 0.85, 0.8, 0.75, 0.7, 0.65].map((q, i) =>
      w(`m${i}`, { q, slots: 3, gen: 40 + 20 * i }),
    );
    const req: PlanRequest = { ...agents(2, 6), computeBudgetSeconds: 6 };
    const full = ok(plan(pool, req));
    expect(full.search.exact).toBe(true);
    const cut = ok(plan(pool, { ...req, maxNodes: 2 }));
    expect(cut.search.exact).toBe(false);
    expect(cut.search.nodes).toBe(3);
    expect(cut.totals.value).toBeLessThanOrEqual(full.totals.value + 1e-12);
    expect(cut.search.upperBound).toBeGreaterThanOrEqual(full.totals.value - 1e-12);
    expect(cut.totals.computeSeconds).toBeLessThanOrEqual(6 + 1e-9);
  });

  it("diffPlans says what changed when a worker leaves", () => {
    const pool = [w("a", { q: 0.9 }), w("b", { q: 0.8 }), w("c", { q: 0.5 })];
    const before = plan(pool, agents(2, 2));
    const after = plan(
      pool.filter((x) => x.workerId !== "b"),
      agents(2, 2),
    );
    const d = diffPlans(before, after);
    expect(d.changed).toBe(true);
    expect(d.removed).toEqual([{ role: "agent", workerId: "b", count: 1 }]);
    expect(d.added).toEqual([{ role: "agent", workerId: "c", count: 1 }]);
    expect(d.kept).toEqual([{ role: "agent", workerId: "a", count: 1 }]);
    expect(d.summary).toEqual(["−1 agent on b", "+1 agent on c", "value 1.700 → 1.400"]);
    expect(diffPlans(after, after).changed).toBe(false);
    const gone = plan([w("a")], agents(2, 2));
    expect(diffPlans(after, gone).summary[0]).toMatch(/^plan became infeasible: /);
  });
});

describe("broker input from the registry", () => {
  const cfg = resolveRegistryConfig();
  function observation(
    id: string,
    state: ReportedWorkerState,
    model: string,
    params: number,
    extra: Partial<WorkerObservation> = {},
  ): WorkerObservation {
    return {
      workerId: id as WorkerId,
      host: "h",
      state,
      model: {
        name: model,
        family: "llama",
        architecture: "llama",
        parameterCount: params,
        quantization: "F32",
      },
      slotsTotal: 2,
      slotsActive: 0,
      slotsQueued: 0,
      generationTokensPerSecond: 1000,
      prefillTokensPerSecond: 3000,
      latencyP50Ms: 2,
      latencyP95Ms: 4,
      errorCount: 0,
      ...extra,
    };
  }
  function registry(now: number): RegistryState {
    let s = emptyRegistry();
    const feed = (o: WorkerObservation, at: number) => {
      s = applyRegistryInput(s, { kind: "telemetry", observation: o }, at, cfg).state;
    };
    feed(observation("a", "ready", "arith-a-d64l2", 142_400), now);
    feed(observation("b", "busy", "arith-b-d96l3", 385_824, { slotsActive: 1 }), now);
    feed(observation("big", "ready", "arith-big-d160l4", 1_329_440), now - 7000);
    feed(observation("dr", "draining", "stories260K", 292_800), now);
    s = applyRegistryInput(s, { kind: "tick" }, now, cfg).state;
    return s;
  }

  it("resolves profiles, free slots and availability for every live worker", () => {
    const now = 1_000_000;
    const inputs = brokerWorkersFromRegistry(registry(now), { profiles: DEFAULT_PROFILES, nowMs: now });
    expect(inputs.map((i) => i.worker.workerId)).toEqual(["a", "b", "big", "dr"]);
    const [a, b, big, dr] = inputs.map((i) => i.worker);
    expect(a?.tags).toEqual(["math"]);
    expect(a?.abilities).toEqual(["propose", "evaluate"]);
    expect(a?.quality.math).toBe(0.7);
    expect(a?.reliability).toBeCloseTo(0.95, 12);
    expect(b?.slots).toBe(1);
    expect(big?.unavailableReason).toBe("suspect: no telemetry for 7.0 s");
    expect(dr?.unavailableReason).toBe("draining: accepts no new work");
    expect(inputs[0]?.profile.evaluationMode).toBe("likelihood");

    const p = ok(
      plan(
        inputs.map((i) => i.worker),
        { roles: nsedRoles({ min: 2, max: 4 }), domain: "math", tokens: { prompt: 9, completion: 3 } },
      ),
    );
    // a: 0.7 × 2 slots, b: 0.7 × 1 slot, both arith models but different models: a, a, b.
    expect(seatsOf(p)).toEqual(["a", "a", "b"]);
    expect(reasonOf(p, "big")).toBe("excluded: suspect: no telemetry for 7.0 s");
  });

  it("online stats move a model's quality and a worker's reliability", () => {
    const now = 1_000_000;
    let stats = emptyQualityStats();
    const key = modelKey({ name: "arith-a-d64l2", parameterCount: 142_400 });
    for (let i = 0; i < 40; i++)
      stats = recordDeliberationOutcome(stats, { modelKey: key, domain: "math", support: -1, won: false });
    const [a] = brokerWorkersFromRegistry(registry(now), {
      profiles: DEFAULT_PROFILES,
      nowMs: now,
      stats,
    }).map((i) => i.worker);
    // prior 0.7, learnt ≈ 0: w = 19/24
    expect(a?.quality.math).toBeCloseTo(
      0.7 * (1 - 19 / 24) + (19 / 24) * stats.models.get(key)!.math!.ewma,
      9,
    );
    expect(a?.quality.math).toBeLessThan(0.2);
  });
});
