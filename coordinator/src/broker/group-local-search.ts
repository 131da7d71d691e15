/**
 * A better starting value for the exact search when budgets bind: local search over the seat counts per
 * value group (groups.ts), from the greedy plan. Like the greedy, its value only cuts subtrees that cannot
 * reach it (solve.ts), so it never decides the answer or its tie-breaks — but the closer it starts to the
 * optimum, the less the search explores before it has a good incumbent of its own.
 *
 * Moves: add one seat of a class to a group, or move one seat from one (group, class) to another; the
 * best improving move (value first, then cost) is taken until none is left. A group's cost is the point of
 * its front (group-fronts.ts) with the least cost relative to the budgets — a heuristic choice, fine here
 * because the result only has to be feasible.
 */
import type { CandidateSet } from "./candidates.js";
import type { FrontPoint, GroupFronts } from "./group-fronts.js";
import type { RoleMatching } from "./roles-matching.js";
import { fits } from "./value.js";

export interface GroupPlan {
  value: number;
  /** Chosen spreading per group (null: no seats). */
  points: (FrontPoint | null)[];
}

const EPS = 1e-9;

function decayed(values: number[], rho: number): number {
  values.sort((a, b) => b - a);
  let total = 0;
  let w = 1;
  for (const v of values) {
    total += w * v;
    w *= rho;
  }
  return total;
}

/**
 * `start`: seats per candidate per candidate class (the greedy's). `newMatching` labels seats of "worker"
 * n + group index (solve.ts). Null when the start is not feasible as group counts. The result is checked
 * from scratch by the caller before its value is used.
 */
export function improveGroups(
  set: CandidateSet,
  fronts: readonly GroupFronts[],
  start: readonly (readonly number[])[],
  newMatching: () => RoleMatching,
  maxPasses = 30,
): GroupPlan | null {
  const { groups, req, candidates } = set;
  const n = candidates.length;
  const G = groups.length;
  const cnt: Int32Array[] = groups.map((g) => new Int32Array(g.classes.length));
  for (const g of groups)
    for (let w = g.first; w < g.end; w++)
      (candidates[w]?.classes ?? []).forEach((cl, ci) => {
        const k = g.classes.findIndex((gc) => gc.cls === cl.cls);
        const row = cnt[g.index] as Int32Array;
        if (k >= 0) row[k] = (row[k] as number) + (start[w]?.[ci] ?? 0);
      });

  const finS = Number.isFinite(req.computeBudgetSeconds);
  const finJ = Number.isFinite(req.energyBudgetJoules);
  const wS = finS ? 1 / Math.max(req.computeBudgetSeconds, 1e-12) : finJ ? 0 : 1;
  const wJ = finJ ? 1 / Math.max(req.energyBudgetJoules, 1e-12) : 0;
  const scal = (p: FrontPoint) => wS * p.seconds + wJ * p.joules;
  const pick = (g: number, vec: Int32Array): FrontPoint | null | undefined => {
    let total = 0;
    for (const x of vec) total += x;
    if (total === 0) return null;
    const front = (fronts[g] as GroupFronts).front(vec);
    let best: FrontPoint | undefined;
    for (const p of front) if (!best || scal(p) < scal(best)) best = p;
    return best; // undefined: infeasible
  };

  const modelGroups = set.models.map(() => [] as number[]);
  for (const g of groups) modelGroups[g.modelIdx]?.push(g.index);
  const modelValue = (m: number, over: Map<number, Int32Array>): number => {
    const vals: number[] = [];
    for (const gi of modelGroups[m] ?? []) {
      const g = groups[gi];
      const row = over.get(gi) ?? (cnt[gi] as Int32Array);
      g?.classes.forEach((gc, k) => {
        if (gc.agent) for (let j = 0; j < (row[k] as number); j++) vals.push(gc.value);
      });
    }
    return decayed(vals, req.repeatDecay);
  };

  // Current state.
  const pts: (FrontPoint | null)[] = new Array(G).fill(null);
  const classCount = new Int32Array(req.classes.length);
  const famCount = new Int32Array(set.families.length);
  let agents = 0;
  let S = 0;
  let J = 0;
  for (const g of groups) {
    const p = pick(g.index, cnt[g.index] as Int32Array);
    if (p === undefined) return null;
    pts[g.index] = p;
    S += p?.seconds ?? 0;
    J += p?.joules ?? 0;
    g.classes.forEach((gc, k) => {
      const x = (cnt[g.index] as Int32Array)[k] as number;
      classCount[gc.cls] = (classCount[gc.cls] as number) + x;
      famCount[g.familyIdx] = (famCount[g.familyIdx] as number) + x;
      if (gc.agent) agents += x;
    });
  }
  // The greedy's own spreading fits the budgets, but the heuristic choice of points may not.
  if (!fits(S, req.computeBudgetSeconds) || !fits(J, req.energyBudgetJoules)) return null;
  const mv = set.models.map((_, m) => modelValue(m, new Map()));
  let nonAgent = 0;
  for (const g of groups)
    g.classes.forEach((gc, k) => {
      if (!gc.agent) nonAgent += gc.value * ((cnt[g.index] as Int32Array)[k] as number);
    });
  let value = mv.reduce((a, b) => a + b, 0) + nonAgent;

  const labelsFit = (): boolean => {
    const m = newMatching();
    for (const g of groups)
      for (let k = 0; k < g.classes.length; k++)
        for (let j = 0; j < ((cnt[g.index] as Int32Array)[k] as number); j++)
          if (!m.place(n + g.index, (g.classes[k] as { cls: number }).cls)) return false;
    return m.fixMinimums();
  };

  type Change = { g: number; k: number; d: number };
  interface Outcome {
    dV: number;
    dC: number;
    rows: Map<number, Int32Array>;
    pts: Map<number, FrontPoint | null>;
  }
  const evaluate = (changes: readonly Change[]): Outcome | null => {
    const rows = new Map<number, Int32Array>();
    const cls = new Map<number, number>();
    const fam = new Map<number, number>();
    let dAgents = 0;
    let dNon = 0;
    for (const c of changes) {
      const g = groups[c.g];
      const gc = g?.classes[c.k];
      if (!g || !gc) return null;
      const row = rows.get(c.g) ?? Int32Array.from(cnt[c.g] as Int32Array);
      row[c.k] = (row[c.k] as number) + c.d;
      if ((row[c.k] as number) < 0) return null;
      rows.set(c.g, row);
      cls.set(gc.cls, (cls.get(gc.cls) ?? 0) + c.d);
      fam.set(g.familyIdx, (fam.get(g.familyIdx) ?? 0) + c.d);
      if (gc.agent) dAgents += c.d;
      else dNon += c.d * gc.value;
    }
    for (const [k, d] of cls) {
      const x = (classCount[k] as number) + d;
      const rc = req.classes[k];
      if (!rc || x > rc.maxTotal || (d < 0 && x < rc.minTotal)) return null;
    }
    for (const [f, d] of fam) if ((famCount[f] as number) + d > req.diversityCap) return null;
    if (dAgents < 0 && agents + dAgents < req.minAgents) return null;
    let dS = 0;
    let dJ = 0;
    const newPts = new Map<number, FrontPoint | null>();
    for (const [gi, row] of rows) {
      const p = pick(gi, row);
      if (p === undefined) return null;
      newPts.set(gi, p);
      const old = pts[gi] ?? null;
      dS += (p?.seconds ?? 0) - (old?.seconds ?? 0);
      dJ += (p?.joules ?? 0) - (old?.joules ?? 0);
    }
    if (!fits(S + dS, req.computeBudgetSeconds) || !fits(J + dJ, req.energyBudgetJoules)) return null;
    let dV = dNon;
    const models = new Set<number>();
    for (const gi of rows.keys()) models.add((groups[gi] as { modelIdx: number }).modelIdx);
    for (const m of models) dV += modelValue(m, rows) - (mv[m] as number);
    return { dV, dC: wS * dS + wJ * dJ, rows, pts: newPts };
  };
  const better = (a: Outcome, b: Outcome | null): boolean =>
    b === null || a.dV > b.dV + EPS || (a.dV >= b.dV - EPS && a.dC < b.dC);
  const improving = (o: Outcome): boolean =>
    o.dV > EPS * Math.max(1, Math.abs(value)) ||
    (o.dV >= -EPS * Math.max(1, Math.abs(value)) && o.dC < -1e-12);

  /** Moves the class, family and agent counts to the rows of `o`. */
  const apply = (o: Outcome): void => {
    for (const [gi, row] of o.rows) {
      const g = groups[gi];
      const cur = cnt[gi] as Int32Array;
      if (!g) continue;
      g.classes.forEach((gc, k) => {
        const d = (row[k] as number) - (cur[k] as number);
        classCount[gc.cls] = (classCount[gc.cls] as number) + d;
        famCount[g.familyIdx] = (famCount[g.familyIdx] as number) + d;
        if (gc.agent) agents += d;
      });
    }
  };
  const commit = (o: Outcome): { rows: Map<number, Int32Array>; pts: Map<number, FrontPoint | null> } => {
    const undo = { rows: new Map<number, Int32Array>(), pts: new Map<number, FrontPoint | null>() };
    apply(o);
    for (const [gi, row] of o.rows) {
      undo.rows.set(gi, cnt[gi] as Int32Array);
      undo.pts.set(gi, pts[gi] ?? null);
      const old = pts[gi] ?? null;
      const p = o.pts.get(gi) ?? null;
      S += (p?.seconds ?? 0) - (old?.seconds ?? 0);
      J += (p?.joules ?? 0) - (old?.joules ?? 0);
      cnt[gi] = row;
      pts[gi] = p;
    }
    return undo;
  };

  const positions: Change[] = [];
  for (const g of groups) for (let k = 0; k < g.classes.length; k++) positions.push({ g: g.index, k, d: 1 });
  for (let pass = 0; pass < maxPasses; pass++) {
    const moves: Outcome[] = [];
    for (const add of positions) {
      const o = evaluate([add]);
      if (o && improving(o)) moves.push(o);
      for (const from of positions) {
        if (from === add || ((cnt[from.g] as Int32Array)[from.k] as number) === 0) continue;
        const s = evaluate([{ g: from.g, k: from.k, d: -1 }, add]);
        if (s && improving(s)) moves.push(s);
      }
    }
    if (moves.length === 0) break;
    moves.sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0));
    let moved = false;
    for (const o of moves) {
      const undo = commit(o);
      if (labelsFit()) {
        for (const m of new Set(
          [...o.rows.keys()].map((gi) => (groups[gi] as { modelIdx: number }).modelIdx),
        ))
          mv[m] = modelValue(m, new Map());
        value += o.dV;
        moved = true;
        break;
      }
      // Roles cannot be labelled: undo and try the next move.
      const back: Outcome = { dV: 0, dC: 0, rows: undo.rows, pts: undo.pts };
      commit(back);
    }
    if (!moved) break;
  }
  // Recomputed from scratch (no drift from the deltas).
  let total = 0;
  for (let m = 0; m < set.models.length; m++) total += modelValue(m, new Map());
  for (const g of groups)
    g.classes.forEach((gc, k) => {
      if (!gc.agent) total += gc.value * ((cnt[g.index] as Int32Array)[k] as number);
    });
  return { value: total, points: pts };
}
