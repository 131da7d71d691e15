/**
 * The exact solver against a brute force on random small instances. The brute force below is written
 * from the specification (BRIEF §4 and the broker's documented value/cost model), independently of the
 * solver's code: it enumerates every seat-count assignment and keeps the best (value, then compute).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { plan } from "../../../coordinator/src/broker/plan.js";
import type { BrokerWorker, Plan, PlanRequest, RoleSpec } from "../../../coordinator/src/broker/types.js";
import type { WorkerId } from "../../../proto/src/ids.js";

const TOL = 1e-7;

interface Brute {
  feasible: boolean;
  value: number;
  seconds: number;
}

function fitsLimit(used: number, limit: number): boolean {
  return used <= limit * (1 + 1e-9) + 1e-12;
}

/** Every assignment of seat counts (worker × role), by enumeration. */
function bruteForce(workers: readonly BrokerWorker[], req: PlanRequest): Brute {
  const roles = req.roles;
  const rho = req.repeatDecay ?? 0.8;
  const sigmaDefault = req.concurrencySlowdown ?? 0.25;
  const offDomain = req.offDomainFactor ?? 0.85;
  const minAgents = req.minAgents ?? 2;
  const cap = req.diversityCap ?? Number.POSITIVE_INFINITY;
  const L = req.latencyBudgetSeconds ?? Number.POSITIVE_INFINITY;
  const capS = req.computeBudgetSeconds ?? Number.POSITIVE_INFINITY;
  const capJ = req.energyBudgetJoules ?? Number.POSITIVE_INFINITY;

  const usable = workers.filter(
    (w) =>
      w.unavailableReason === undefined &&
      w.slots > 0 &&
      !(Number.isFinite(capJ) && w.powerWatts === undefined && req.assumedPowerWatts === undefined),
  );
  // value[w][r] (0 = not allowed) and seconds[w][r]
  const value: number[][] = [];
  const secs: number[][] = [];
  for (const w of usable) {
    const vr: number[] = [];
    const sr: number[] = [];
    for (const r of roles) {
      const agent = r.agent ?? true;
      const abilities = r.abilities ?? (agent ? ["propose"] : ["synthesize"]);
      const ok =
        abilities.every((a) => w.abilities.includes(a)) &&
        (r.requiredTags ?? []).every((t) => w.tags.includes(t));
      const tokens = r.tokens ?? req.tokens;
      const s =
        (w.overheadSeconds ?? 0) +
        (tokens.prompt > 0 ? tokens.prompt / w.prefillTokensPerSecond : 0) +
        (tokens.completion > 0 ? tokens.completion / w.generationTokensPerSecond : 0);
      const onDomain = req.domain === "general" || w.tags.includes(req.domain);
      const allowed = ok && Number.isFinite(s) && fitsLimit(s, L);
      vr.push(
        allowed ? (onDomain ? 1 : offDomain) * w.quality[req.domain] * w.reliability * (r.weight ?? 1) : -1,
      );
      sr.push(s);
    }
    value.push(vr);
    secs.push(sr);
  }

  const counts: number[][] = usable.map(() => roles.map(() => 0));
  let best: Brute = { feasible: false, value: Number.NEGATIVE_INFINITY, seconds: Number.POSITIVE_INFINITY };

  const evaluate = (): void => {
    for (let r = 0; r < roles.length; r++) {
      const n = counts.reduce((s, c) => s + (c[r] as number), 0);
      const role = roles[r] as RoleSpec;
      if (n < role.min || n > role.max) return;
    }
    let agents = 0;
    const byModel = new Map<string, number[]>();
    const byFamily = new Map<string, number>();
    let v = 0;
    let S = 0;
    let J = 0;
    usable.forEach((w, i) => {
      const ss: number[] = [];
      roles.forEach((role, r) => {
        const k = counts[i]?.[r] as number;
        for (let j = 0; j < k; j++) {
          const val = value[i]?.[r] as number;
          ss.push(secs[i]?.[r] as number);
          byFamily.set(w.family, (byFamily.get(w.family) ?? 0) + 1);
          if (role.agent ?? true) {
            agents++;
            byModel.set(w.modelKey, [...(byModel.get(w.modelKey) ?? []), val]);
          } else v += val;
        }
      });
      if (ss.length === 0) return;
      const max = Math.max(...ss);
      const sum = ss.reduce((a, b) => a + b, 0);
      const t = max + (w.concurrencySlowdown ?? sigmaDefault) * (sum - max);
      if (!fitsLimit(t, L)) v = Number.NaN;
      S += t;
      J += t * (w.powerWatts ?? req.assumedPowerWatts ?? 0);
    });
    if (Number.isNaN(v)) return;
    if (agents < minAgents) return;
    for (const n of byFamily.values()) if (n > cap) return;
    if (!fitsLimit(S, capS) || !fitsLimit(J, capJ)) return;
    for (const vals of byModel.values()) {
      vals.sort((a, b) => b - a);
      vals.forEach((x, j) => {
        v += x * rho ** j;
      });
    }
    const better =
      !best.feasible ||
      v > best.value + 1e-9 * Math.max(1, Math.abs(best.value)) ||
      (v >= best.value - 1e-9 * Math.max(1, Math.abs(best.value)) &&
        S < best.seconds - 1e-9 * Math.max(1, best.seconds));
    if (better) best = { feasible: true, value: v, seconds: S };
  };

  const rec = (i: number, r: number, slotsLeft: number): void => {
    if (i === usable.length) {
      evaluate();
      return;
    }
    if (r === roles.length) {
      rec(i + 1, 0, usable[i + 1]?.slots ?? 0);
      return;
    }
    const role = roles[r] as RoleSpec;
    const used = counts.reduce((s, c) => s + (c[r] as number), 0);
    const allowed = (value[i]?.[r] as number) >= 0;
    const maxK = allowed ? Math.min(slotsLeft, role.max - used) : 0;
    for (let k = 0; k <= maxK; k++) {
      (counts[i] as number[])[r] = k;
      rec(i, r + 1, slotsLeft - k);
    }
    (counts[i] as number[])[r] = 0;
  };
  rec(0, 0, usable[0]?.slots ?? 0);
  return best;
}

/** Re-checks a returned plan against the specification: every constraint, and its reported value. */
function violations(workers: readonly BrokerWorker[], req: PlanRequest, p: Plan): string[] {
  const out: string[] = [];
  if (p.status !== "ok") return out;
  const byId = new Map(workers.map((w) => [w.workerId as string, w]));
  const seatsOn = new Map<string, number>();
  const perRole = new Map<string, number>();
  const perFamily = new Map<string, number>();
  let agents = 0;
  for (const s of p.seats) {
    const w = byId.get(s.workerId);
    const role = req.roles.find((r) => r.name === s.role);
    if (!w || !role) {
      out.push(`unknown seat ${s.workerId}/${s.role}`);
      continue;
    }
    if (w.unavailableReason !== undefined) out.push(`${w.workerId} is unavailable but seated`);
    seatsOn.set(w.workerId, (seatsOn.get(w.workerId) ?? 0) + 1);
    perRole.set(role.name, (perRole.get(role.name) ?? 0) + 1);
    perFamily.set(w.family, (perFamily.get(w.family) ?? 0) + 1);
    if (role.agent ?? true) agents++;
    const abilities = role.abilities ?? ((role.agent ?? true) ? ["propose"] : ["synthesize"]);
    if (!abilities.every((a) => w.abilities.includes(a)))
      out.push(`${w.workerId} lacks an ability for ${role.name}`);
    if (!(role.requiredTags ?? []).every((t) => w.tags.includes(t)))
      out.push(`${w.workerId} lacks a tag for ${role.name}`);
    if (req.latencyBudgetSeconds !== undefined && !fitsLimit(s.expectedSeconds, req.latencyBudgetSeconds))
      out.push(`${w.workerId} takes ${s.expectedSeconds} s > latency budget`);
  }
  for (const [id, n] of seatsOn)
    if (n > (byId.get(id)?.slots ?? 0)) out.push(`${id} seated ${n} times > slots`);
  for (const r of req.roles) {
    const n = perRole.get(r.name) ?? 0;
    if (n < r.min || n > r.max) out.push(`role ${r.name} has ${n} seats outside [${r.min}, ${r.max}]`);
  }
  if (agents < (req.minAgents ?? 2)) out.push(`${agents} agents`);
  if (req.diversityCap !== undefined)
    for (const [f, n] of perFamily) if (n > req.diversityCap) out.push(`family ${f} has ${n} seats`);
  if (req.computeBudgetSeconds !== undefined && !fitsLimit(p.totals.computeSeconds, req.computeBudgetSeconds))
    out.push("compute budget exceeded");
  return out;
}

/**
 * Asserts that plan() agrees with brute force on one instance: proven exact, the same feasibility, the
 * optimal value and compute, no constraint broken, seat values summing to the total (decay shares are a
 * partition of the value). Returns whether the instance was feasible.
 */
function expectBruteForceOptimum(workers: readonly BrokerWorker[], req: PlanRequest): boolean {
  const brute = bruteForce(workers, req);
  const p = plan(workers, req);
  expect(p.search.exact).toBe(true);
  if (!brute.feasible) {
    expect(p.status).toBe("infeasible");
    return false;
  }
  expect(p.status).toBe("ok");
  if (p.status !== "ok") return true;
  expect(p.totals.value).toBeCloseTo(brute.value, 7);
  expect(p.search.upperBound).toBeCloseTo(p.totals.value, 7);
  expect(Math.abs(p.totals.computeSeconds - brute.seconds)).toBeLessThanOrEqual(
    TOL * Math.max(1, brute.seconds),
  );
  expect(violations(workers, req, p)).toEqual([]);
  const sum = p.seats.reduce((s, x) => s + x.value, 0);
  expect(sum).toBeCloseTo(p.totals.value, 9);
  return true;
}

const qualityArb = fc.constantFrom(0, 0.3, 0.5, 0.7, 0.9);
const workerArb = fc.record({
  model: fc.integer({ min: 0, max: 3 }),
  family: fc.integer({ min: 0, max: 2 }),
  slots: fc.integer({ min: 0, max: 9 }).map((x) => (x === 0 ? 0 : 1 + (x % 3))),
  quality: fc.tuple(qualityArb, qualityArb),
  reliability: fc.constantFrom(0.5, 0.9, 1),
  prefill: fc.constantFrom(100, 400, 1000),
  gen: fc.constantFrom(20, 50, 100, 200),
  power: fc.constantFrom(undefined, 50, 150, 300),
  sigma: fc.constantFrom(undefined, undefined, 0, 0.5, 1),
  abilities: fc.constantFrom(
    ["propose", "evaluate", "synthesize"],
    ["propose", "evaluate", "synthesize"],
    ["propose", "evaluate"],
    ["synthesize"],
  ),
  math: fc.boolean(),
  unavailable: fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
});

const roleArb = fc.record({
  min: fc.constantFrom(0, 0, 1, 2),
  extra: fc.constantFrom(0, 1, 2, 2, 3),
  agent: fc.integer({ min: 0, max: 3 }).map((x) => x !== 0),
  needMath: fc.integer({ min: 0, max: 3 }).map((x) => x === 0),
  weight: fc.constantFrom(1, 1, 0.5, 2),
  longPrompt: fc.boolean(),
});

const instanceArb = fc.record({
  workers: fc.array(workerArb, { minLength: 2, maxLength: 5 }),
  roles: fc.array(roleArb, { minLength: 1, maxLength: 3 }),
  domain: fc.constantFrom("general", "math"),
  latency: fc.constantFrom(undefined, undefined, 6, 8, 20),
  compute: fc.constantFrom(undefined, undefined, 4, 10, 25, 60),
  energy: fc.constantFrom(undefined, undefined, undefined, undefined, 500, 2000, 6000),
  cap: fc.constantFrom(undefined, undefined, 1, 2, 3),
  minAgents: fc.constantFrom(0, 1, 2, 2),
  rho: fc.constantFrom(0, 0.5, 0.8, 1),
  assumedPower: fc.constantFrom(undefined, 100),
});

type Instance = typeof instanceArb extends fc.Arbitrary<infer T> ? T : never;

function build(inst: Instance): { workers: BrokerWorker[]; req: PlanRequest } {
  const workers: BrokerWorker[] = inst.workers.map((w, i) => {
    const q = { general: w.quality[0], math: w.quality[1], code: 0.2, review: 0.2 };
    const bw: BrokerWorker = {
      workerId: `w${i}` as WorkerId,
      modelKey: `m${w.model}`,
      modelName: `model-${w.model}`,
      family: `f${w.family}`,
      slots: w.slots,
      prefillTokensPerSecond: w.prefill,
      generationTokensPerSecond: w.gen,
      tags: w.math ? ["general", "math"] : ["general"],
      abilities: w.abilities as BrokerWorker["abilities"],
      quality: q,
      reliability: w.reliability,
    };
    if (w.power !== undefined) bw.powerWatts = w.power;
    if (w.sigma !== undefined) bw.concurrencySlowdown = w.sigma;
    if (w.unavailable) bw.unavailableReason = "suspect: no telemetry for 7.0 s";
    return bw;
  });
  const roles: RoleSpec[] = inst.roles.map((r, i) => {
    const role: RoleSpec = {
      name: `r${i}`,
      min: r.min,
      max: r.min + r.extra,
      agent: r.agent,
      weight: r.weight,
      requiredTags: r.needMath ? ["math"] : [],
    };
    if (r.longPrompt) role.tokens = { prompt: 2000, completion: 100 };
    return role;
  });
  const req: PlanRequest = {
    roles,
    domain: inst.domain as PlanRequest["domain"],
    tokens: { prompt: 400, completion: 150 },
    minAgents: inst.minAgents,
    repeatDecay: inst.rho,
  };
  if (inst.latency !== undefined) req.latencyBudgetSeconds = inst.latency;
  if (inst.compute !== undefined) req.computeBudgetSeconds = inst.compute;
  if (inst.energy !== undefined) req.energyBudgetJoules = inst.energy;
  if (inst.cap !== undefined) req.diversityCap = inst.cap;
  if (inst.assumedPower !== undefined) req.assumedPowerWatts = inst.assumedPower;
  return { workers, req };
}

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe("broker exact solve vs brute force", () => {
  it("finds the brute-force optimum (value, then compute) and respects every constraint", () => {
    let feasibleSeen = 0;
    let infeasibleSeen = 0;
    fc.assert(
      fc.property(instanceArb, (inst) => {
        const { workers, req } = build(inst);
        if (expectBruteForceOptimum(workers, req)) feasibleSeen++;
        else infeasibleSeen++;
      }),
      { numRuns: 300, seed: 20250611 },
    );
    // The generator must exercise both outcomes, or the property proves little.
    expect(feasibleSeen).toBeGreaterThan(80);
    expect(infeasibleSeen).toBeGreaterThan(20);
  });

  it("is deterministic: the same plan whatever the order of the workers", () => {
    fc.assert(
      fc.property(instanceArb, fc.integer({ min: 1, max: 1_000_000 }), (inst, seed) => {
        const { workers, req } = build(inst);
        const a = plan(workers, req);
        const b = plan(shuffled(workers, seed), req);
        expect(b).toEqual(a);
      }),
      { numRuns: 150, seed: 7 },
    );
  });

  it("explains every decision: each worker is seated or excluded, never both, always with a reason", () => {
    fc.assert(
      fc.property(instanceArb, (inst) => {
        const { workers, req } = build(inst);
        const p = plan(workers, req);
        const seated = new Set(p.seats.map((s) => s.workerId));
        const excluded = p.exclusions.map((e) => e.workerId);
        expect(new Set(excluded).size).toBe(excluded.length);
        for (const id of excluded) expect(seated.has(id)).toBe(false);
        expect(new Set([...seated, ...excluded])).toEqual(new Set(workers.map((w) => w.workerId)));
        for (const s of p.seats) expect(s.reason).toMatch(/^chosen: value \d/);
        for (const e of p.exclusions) expect(e.reason).toMatch(/^(excluded|not chosen|not seated): \S/);
        if (p.status === "infeasible") {
          expect(p.reason.length).toBeGreaterThan(10);
          expect(p.problems[0]).toBe(p.reason);
        }
        // Seat indices number each role's seats 0..n-1.
        for (const r of req.roles) {
          const idx = p.seats.filter((s) => s.role === r.name).map((s) => s.seatIndex);
          expect(idx).toEqual(idx.map((_, i) => i));
        }
      }),
      { numRuns: 150, seed: 99 },
    );
  });
});

/**
 * Pools with many interchangeable workers (the value-group path of the solver): a few model templates,
 * each on several workers that are either exact clones or the same model on other hardware (other
 * speeds, slots, power). Up to 7 workers, so the brute force stays small.
 */
const copyArb = fc.record({
  clone: fc.boolean(),
  slots: fc.integer({ min: 1, max: 2 }),
  gen: fc.constantFrom(20, 50, 100, 200),
  power: fc.constantFrom(undefined, 50, 150, 300),
});
const templateArb = fc.record({
  worker: workerArb,
  copies: fc.array(copyArb, { minLength: 1, maxLength: 4 }),
});
const cloneInstanceArb = fc.record({
  templates: fc.array(templateArb, { minLength: 1, maxLength: 3 }),
  roles: fc.array(roleArb, { minLength: 1, maxLength: 2 }),
  domain: fc.constantFrom("general", "math"),
  latency: fc.constantFrom(undefined, undefined, 6, 8, 20),
  compute: fc.constantFrom(undefined, undefined, 4, 10, 25),
  energy: fc.constantFrom(undefined, undefined, undefined, 500, 2000, 6000),
  cap: fc.constantFrom(undefined, undefined, 1, 2, 3),
  minAgents: fc.constantFrom(0, 1, 2, 2),
  rho: fc.constantFrom(0, 0.5, 0.8, 1),
  assumedPower: fc.constantFrom(undefined, 100),
});
type CloneInstance = typeof cloneInstanceArb extends fc.Arbitrary<infer T> ? T : never;

function buildClones(inst: CloneInstance): { workers: BrokerWorker[]; req: PlanRequest } {
  const base = build({
    ...inst,
    workers: inst.templates.map((t) => ({
      ...t.worker,
      slots: Math.max(1, t.worker.slots),
      unavailable: false,
    })),
  });
  const workers: BrokerWorker[] = [];
  inst.templates.forEach((t, ti) => {
    const proto = base.workers[ti] as BrokerWorker;
    for (const c of t.copies) {
      if (workers.length >= 7) break;
      const id = `w${workers.length}` as WorkerId;
      const w: BrokerWorker = c.clone
        ? { ...proto, workerId: id }
        : { ...proto, workerId: id, slots: c.slots, generationTokensPerSecond: c.gen };
      if (!c.clone) {
        if (c.power === undefined) delete w.powerWatts;
        else w.powerWatts = c.power;
      }
      workers.push(w);
    }
  });
  // Slots ≤ 2 keep the brute force small.
  for (const w of workers) w.slots = Math.min(w.slots, 2);
  return { workers, req: base.req };
}

describe("broker exact solve vs brute force, pools of interchangeable workers", () => {
  it("finds the brute-force optimum and respects every constraint", () => {
    let feasibleSeen = 0;
    let sharedModel = 0;
    fc.assert(
      fc.property(cloneInstanceArb, (inst) => {
        const { workers, req } = buildClones(inst);
        if (new Set(workers.map((w) => w.modelKey)).size < workers.length) sharedModel++;
        if (expectBruteForceOptimum(workers, req)) feasibleSeen++;
      }),
      { numRuns: 300, seed: 20250612 },
    );
    expect(feasibleSeen).toBeGreaterThan(120);
    expect(sharedModel).toBeGreaterThan(200);
  });

  it("never reports a root bound below the optimum (the bound the search cuts with is valid)", () => {
    let checked = 0;
    fc.assert(
      fc.property(cloneInstanceArb, instanceArb, fc.boolean(), (clones, single, useClones) => {
        const { workers, req } = useClones ? buildClones(clones) : build(single);
        const brute = bruteForce(workers, req);
        if (!brute.feasible) return;
        // One node: unless that settles it, the search stops right after the root bound and reports it.
        const p = plan(workers, { ...req, maxNodes: 1 });
        expect(p.search.upperBound).toBeGreaterThanOrEqual(brute.value - 1e-9);
        if (!p.search.exact) checked++;
      }),
      { numRuns: 500, seed: 31337 },
    );
    expect(checked).toBeGreaterThan(120);
  });

  it("is deterministic and explains every worker, whatever the order of the workers", () => {
    fc.assert(
      fc.property(cloneInstanceArb, fc.integer({ min: 1, max: 1_000_000 }), (inst, seed) => {
        const { workers, req } = buildClones(inst);
        const a = plan(workers, req);
        const b = plan(shuffled(workers, seed), req);
        expect(b).toEqual(a);
        const seated = new Set(a.seats.map((s) => s.workerId));
        const excluded = a.exclusions.map((e) => e.workerId);
        for (const id of excluded) expect(seated.has(id)).toBe(false);
        expect(new Set([...seated, ...excluded])).toEqual(new Set(workers.map((w) => w.workerId)));
        for (const s of a.seats) expect(s.reason).toMatch(/^chosen: value \d/);
        for (const e of a.exclusions) expect(e.reason).toMatch(/^(excluded|not chosen|not seated): \S/);
      }),
      { numRuns: 150, seed: 11 },
    );
  });
});

describe("brute force sanity", () => {
  it("really enumerates: a hand instance with a known optimum", () => {
    const mk = (id: string, q: number, slots: number): BrokerWorker => ({
      workerId: id as WorkerId,
      modelKey: id,
      modelName: id,
      family: id,
      slots,
      prefillTokensPerSecond: 1000,
      generationTokensPerSecond: 100,
      tags: ["general"],
      abilities: ["propose"],
      quality: { general: q, math: q, code: q, review: q },
      reliability: 1,
    });
    const req: PlanRequest = {
      roles: [{ name: "agent", min: 2, max: 3 }],
      domain: "general",
      tokens: { prompt: 0, completion: 100 },
      repeatDecay: 0.5,
    };
    // Best 3 seats: a, a (decayed ×0.5), b = 0.8 + 0.4 + 0.5 = 1.7 beats a + b + c = 1.6 and a + a = 1.2;
    // compute = a's round 1 s × (1 + 0.25) + b's 1 s = 2.25 s.
    const brute = bruteForce([mk("a", 0.8, 2), mk("b", 0.5, 1), mk("c", 0.3, 1)], req);
    expect(brute.value).toBeCloseTo(1.7, 12);
    expect(brute.seconds).toBeCloseTo(2.25, 12);
  });
});
