/**
 * A quick feasible plan to start the exact search from. Its value only prunes subtrees that cannot even
 * reach it (strictly below), so it never decides the answer or its tie-breaks — it only saves time: the
 * depth-first search alone starts from "stack every seat on the first group" and takes long to climb.
 * When budgets bind, local search over value groups improves it (group-local-search.ts). It is also the
 * fallback when the search is stopped by its node limit before finding anything better.
 *
 * Greedy: first fill the class and agent minimums with the cheapest seats, then repeatedly add the seat
 * with the best marginal value per marginal cost (cost = the share of each finite budget it uses; value
 * alone without budgets) until nothing feasible adds value. Role labels use the same matching as the search.
 */
import type { CandidateSet } from "./candidates.js";
import type { RoleMatching } from "./roles-matching.js";
import { fits } from "./value.js";

function owaWith(sortedDesc: readonly number[], v: number, rho: number): number {
  let total = 0;
  let w = 1;
  let inserted = false;
  for (const x of sortedDesc) {
    if (!inserted && v > x) {
      total += w * v;
      w *= rho;
      inserted = true;
    }
    total += w * x;
    w *= rho;
  }
  if (!inserted) total += w * v;
  return total;
}

function owa(sortedDesc: readonly number[], rho: number): number {
  let total = 0;
  let w = 1;
  for (const x of sortedDesc) {
    total += w * x;
    w *= rho;
  }
  return total;
}

/**
 * The better of two greedy plans — by value per cost and by value alone (stacking cheap extra seats looks
 * good per second but is poor when the budget does not bind) — or -Infinity when neither is feasible.
 */
export interface GreedyPlan {
  value: number;
  /** Seats per candidate per class (indices as in Candidate.classes). */
  counts: number[][];
}

export function greedyPlan(set: CandidateSet, newMatching: () => RoleMatching): GreedyPlan | null {
  let best: number[][] | null = null;
  let bestValue = Number.NEGATIVE_INFINITY;
  const all = set.candidates.map((_, w) => w);
  const budgeted =
    Number.isFinite(set.req.computeBudgetSeconds) || Number.isFinite(set.req.energyBudgetJoules);
  for (const perCost of budgeted ? [true, false] : [false]) {
    const counts = greedyRun(set, newMatching(), perCost);
    const e = counts ? evalCounts(set, counts, all) : undefined;
    if (counts && e?.feasible && e.value > bestValue) {
      best = counts;
      bestValue = e.value;
    }
  }
  if (!best) return null;
  return { value: bestValue, counts: best };
}

function greedyRun(set: CandidateSet, matching: RoleMatching, perCost: boolean): number[][] | null {
  const { candidates, req } = set;
  const rho = req.repeatDecay;
  const n = candidates.length;
  const seatsOn = new Int32Array(n);
  const wMax = new Float64Array(n);
  const wSum = new Float64Array(n);
  const classCount = new Int32Array(req.classes.length);
  const famCount = new Int32Array(set.families.length);
  const modelSeats: number[][] = set.models.map(() => []);
  let usedS = 0;
  let usedJ = 0;
  let agents = 0;
  let value = 0;
  const blocked = new Set<number>();
  const counts: number[][] = candidates.map((c) => c.classes.map(() => 0));
  const finiteS = Number.isFinite(req.computeBudgetSeconds);
  const finiteJ = Number.isFinite(req.energyBudgetJoules);

  type Move = { w: number; ci: number; dV: number; dS: number; dJ: number; score: number };
  const moveFor = (w: number, ci: number, needClass: number, needAgent: boolean): Move | undefined => {
    const c = candidates[w];
    const cl = c?.classes[ci];
    const cls = cl ? req.classes[cl.cls] : undefined;
    if (!c || !cl || !cls || blocked.has(w * 64 + ci)) return undefined;
    if (needClass >= 0 && cl.cls !== needClass) return undefined;
    if (needAgent && !cl.agent) return undefined;
    if ((seatsOn[w] as number) >= c.slots) return undefined;
    if ((classCount[cl.cls] as number) >= cls.maxTotal) return undefined;
    if ((famCount[c.familyIdx] as number) >= req.diversityCap) return undefined;
    const before =
      seatsOn[w] === 0 ? 0 : (wMax[w] as number) + c.sigma * ((wSum[w] as number) - (wMax[w] as number));
    const max = Math.max(wMax[w] as number, cl.seconds);
    const t = max + c.sigma * ((wSum[w] as number) + cl.seconds - max);
    if (!fits(t, req.latencyBudgetSeconds)) return undefined;
    const dS = t - before;
    const dJ = dS * c.watts;
    if (!fits(usedS + dS, req.computeBudgetSeconds) || !fits(usedJ + dJ, req.energyBudgetJoules))
      return undefined;
    const seats = modelSeats[c.modelIdx] as number[];
    const dV = cl.agent ? owaWith(seats, cl.value, rho) - owa(seats, rho) : cl.value;
    const share =
      (finiteS ? dS / Math.max(1e-12, req.computeBudgetSeconds - usedS) : 0) +
      (finiteJ ? dJ / Math.max(1e-12, req.energyBudgetJoules - usedJ) : 0);
    return { w, ci, dV, dS, dJ, score: perCost && (finiteS || finiteJ) ? dV / Math.max(share, 1e-12) : dV };
  };

  const apply = (m: Move): boolean => {
    const c = candidates[m.w];
    const cl = c?.classes[m.ci];
    if (!c || !cl) return false;
    if (!matching.place(m.w, cl.cls)) {
      blocked.add(m.w * 64 + m.ci);
      return false;
    }
    seatsOn[m.w] = (seatsOn[m.w] as number) + 1;
    (counts[m.w] as number[])[m.ci] = ((counts[m.w] as number[])[m.ci] as number) + 1;
    wMax[m.w] = Math.max(wMax[m.w] as number, cl.seconds);
    wSum[m.w] = (wSum[m.w] as number) + cl.seconds;
    classCount[cl.cls] = (classCount[cl.cls] as number) + 1;
    famCount[c.familyIdx] = (famCount[c.familyIdx] as number) + 1;
    usedS += m.dS;
    usedJ += m.dJ;
    value += m.dV;
    if (cl.agent) {
      agents++;
      const seats = modelSeats[c.modelIdx] as number[];
      let at = 0;
      while (at < seats.length && (seats[at] as number) >= cl.value) at++;
      seats.splice(at, 0, cl.value);
    }
    return true;
  };

  const best = (pick: (m: Move) => number, needClass: number, needAgent: boolean): Move | undefined => {
    let top: Move | undefined;
    for (let w = 0; w < n; w++) {
      const c = candidates[w];
      if (!c) continue;
      for (let ci = 0; ci < c.classes.length; ci++) {
        const m = moveFor(w, ci, needClass, needAgent);
        if (m && (!top || pick(m) > pick(top))) top = m;
      }
    }
    return top;
  };

  // Phase 1: minimums, cheapest first.
  const cheapest = (m: Move) => -(m.dS + m.dJ * 1e-6) + m.dV * 1e-9;
  for (const cls of req.classes) {
    while ((classCount[cls.index] as number) < cls.minTotal) {
      const m = best(cheapest, cls.index, false);
      if (!m) return null;
      apply(m);
    }
  }
  while (agents < req.minAgents) {
    const m = best(cheapest, -1, true);
    if (!m) return null;
    apply(m);
  }
  // Phase 2: best value per cost while it adds value.
  for (;;) {
    const m = best((x) => x.score, -1, false);
    if (!m || m.dV <= 0) break;
    apply(m);
  }
  if (!matching.fixMinimums()) return null;
  void value;
  return counts;
}

interface CountsEval {
  feasible: boolean;
  value: number;
  seconds: number;
}

/** Value and feasibility of seat counts (labels aside), from scratch over the workers in `rows`. */
function evalCounts(
  set: CandidateSet,
  counts: readonly (readonly number[])[],
  rows: Iterable<number>,
): CountsEval {
  const { candidates, req } = set;
  const classCount = new Int32Array(req.classes.length);
  const famCount = new Map<number, number>();
  const modelSeats = new Map<number, number[]>();
  let S = 0;
  let J = 0;
  let agents = 0;
  let value = 0;
  const bad = { feasible: false, value: 0, seconds: 0 };
  for (const w of rows) {
    const c = candidates[w];
    const row = counts[w];
    if (!c || !row) continue;
    let seats = 0;
    let max = 0;
    let sum = 0;
    c.classes.forEach((cl, ci) => {
      const x = row[ci] as number;
      if (x === 0) return;
      seats += x;
      max = Math.max(max, cl.seconds);
      sum += x * cl.seconds;
      classCount[cl.cls] = (classCount[cl.cls] as number) + x;
      famCount.set(c.familyIdx, (famCount.get(c.familyIdx) ?? 0) + x);
      if (cl.agent) {
        agents += x;
        const list = modelSeats.get(c.modelIdx) ?? [];
        for (let j = 0; j < x; j++) list.push(cl.value);
        modelSeats.set(c.modelIdx, list);
      } else value += x * cl.value;
    });
    if (seats === 0) continue;
    if (seats > c.slots) return bad;
    const t = max + c.sigma * (sum - max);
    if (!fits(t, req.latencyBudgetSeconds)) return bad;
    S += t;
    J += t * c.watts;
  }
  for (const cl of req.classes) {
    const k = classCount[cl.index] as number;
    if (k < cl.minTotal || k > cl.maxTotal) return bad;
  }
  if (agents < req.minAgents) return bad;
  for (const n of famCount.values()) if (n > req.diversityCap) return bad;
  if (!fits(S, req.computeBudgetSeconds) || !fits(J, req.energyBudgetJoules)) return bad;
  for (const seats of modelSeats.values())
    value += owa(
      seats.sort((a, b) => b - a),
      req.repeatDecay,
    );
  return { feasible: true, value, seconds: S };
}
