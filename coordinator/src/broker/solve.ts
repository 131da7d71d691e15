/**
 * Exact branch-and-bound over the value groups of the candidate table (groups.ts).
 *
 * Objective, lexicographic: (1) higher total value, (2) lower total compute seconds, (3) among exact ties,
 * the first plan in search order: groups in canonical order, each group's seat counts per class from high
 * to low, then its cheapest spreading over its members (group-fronts.ts: most seats on the earliest
 * members among equally cheap ones, so identical workers fill in worker-id order). Values and seconds
 * compare with a relative tolerance of 1e-9.
 *
 * Search: depth-first over value groups in canonical order; for each group, over its role classes, trying
 * seat counts from high to low; then over the Pareto front (seconds, joules) of the ways to spread those
 * seats over the group's members. Value, roles, families and agent counts depend only on the counts per
 * group (that is what makes members equivalent), so a model's seats are decided once instead of once per
 * way of placing them on its workers. A plan replaces the incumbent only when strictly better on (1) or (2),
 * which makes tie-break (3) hold. A subtree is cut when its value bound cannot beat the incumbent (or can
 * only tie it without being cheaper), when the open minimums can no longer be met, or when it breaks a
 * budget; the cheapest spreading of a group's counts so far is a lower bound on its cost (costs only grow
 * with seats), which cuts early. Seats are labelled with roles by an incremental bipartite matching
 * (roles-matching.ts), so a branch that cannot be labelled within the roles' maxima is cut at once and
 * minimums are checked at the leaves. A greedy plan's value (greedy.ts), improved by local search when
 * budgets bind (group-local-search.ts), cuts from the start the subtrees that cannot reach it.
 *
 * Why groups and not workers: realistic pools hold several workers of one model on different GPUs. They
 * are worth the same and differ only in cost, so a worker-by-worker search met every plan value again once
 * per way of spreading a model's seats over its workers, and could not tell those apart by value — it had
 * to enumerate them to find the cheapest. Here that choice is a small exact DP per group instead.
 */
import {
  type BoundState,
  boundContext,
  budgetsBind,
  suffixCanMeetMinimums,
  suffixValueBound,
} from "./bound.js";
import type { CandidateSet } from "./candidates.js";
import { evaluateSeats, type SeatChoice } from "./evaluate.js";
import { greedyPlan } from "./greedy.js";
import { type FrontPoint, GroupFronts, SpreadBudgetExceeded, spread } from "./group-fronts.js";
import { improveGroups } from "./group-local-search.js";
import { RoleMatching } from "./roles-matching.js";
import { buildSuffixData, type SuffixData } from "./suffix-data.js";
import { fits } from "./value.js";

export interface SolveResult {
  /** Null when no assignment meets every constraint. */
  seats: SeatChoice[] | null;
  value: number;
  /** Compute seconds of the plan (NaN for the start-plan fallback; plan.ts re-evaluates the seats anyway). */
  computeSeconds: number;
  nodes: number;
  exact: boolean;
  /** The root's upper bound on the value (the optimum itself when the search completed). */
  upperBound: number;
}

const REL = 1e-9;

function decayedSorted(seats: readonly number[], rho: number): number {
  let total = 0;
  let w = 1;
  for (const v of seats) {
    total += w * v;
    w *= rho;
  }
  return total;
}

/** Role labels for a seat-count vector, deterministically (canonical order, then minimum fixing). */
function labelSeats(
  set: CandidateSet,
  counts: Int32Array,
  offset: Int32Array,
  matching: RoleMatching,
): SeatChoice[] | null {
  set.candidates.forEach((c, i) => {
    c.classes.forEach((cl, ci) => {
      const k = counts[(offset[i] as number) + ci] as number;
      for (let j = 0; j < k; j++) matching.place(i, cl.cls);
    });
  });
  if (!matching.fixMinimums()) return null;
  const seats = matching.seatW.map((cand, s) => ({ cand, role: matching.seatR[s] as number }));
  return seats.sort((a, b) => a.cand - b.cand || a.role - b.role);
}

function emptyState(set: CandidateSet): BoundState {
  return {
    classCount: new Int32Array(set.req.classes.length),
    eligibleCount: new Int32Array(set.req.roles.length),
    agentCount: 0,
    famCount: new Int32Array(set.families.length),
    modelSeats: set.models.map(() => []),
    usedS: 0,
    usedJ: 0,
  };
}

/** Runs `f`; undefined when a spreading table stopped it at the node limit (the search state is then dropped). */
function untilBudget<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (err) {
    if (err instanceof SpreadBudgetExceeded) return undefined;
    throw err;
  }
}

/** `data` may be passed when already built for this exact candidate set. */
export function solveExact(set: CandidateSet, data: SuffixData = buildSuffixData(set)): SolveResult {
  const { candidates, groups, req } = set;
  const n = candidates.length;
  const G = groups.length;
  const R = req.roles.length;
  const rho = req.repeatDecay;
  const ctx = boundContext(set, data);

  const roleMin = Int32Array.from(req.roles.map((r) => r.min));
  const roleMax = Int32Array.from(req.roles.map((r) => r.max));
  const eligibleRoles = candidates.map((c) => {
    const byClass: number[][] = req.classes.map(() => []);
    for (const cl of c.classes) byClass[cl.cls] = [...cl.roles];
    return byClass;
  });
  // The search labels a group's seats as seats of "worker" n + group index: a group's members share the
  // roles of every class they have (groups.ts), and the group offers the union of their classes.
  const groupRoles = groups.map((g) => {
    const byClass: (readonly number[])[] = req.classes.map(() => []);
    for (const gc of g.classes) byClass[gc.cls] = gc.roles;
    return byClass;
  });
  const problem = {
    roleMin,
    roleMax,
    eligible: (w: number, k: number): readonly number[] =>
      (w < n ? eligibleRoles[w]?.[k] : groupRoles[w - n]?.[k]) ?? [],
  };
  const matching = new RoleMatching(problem, R);

  // Flat count vector: offset of each candidate's classes.
  const offset = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) offset[i + 1] = (offset[i] as number) + (candidates[i]?.classes.length ?? 0);

  let nodes = 0;
  let aborted = false;
  /** Counts one node of work; false (and the search stops) past the node limit. */
  const spend = (): boolean => {
    if (aborted) return false;
    if (++nodes > req.maxNodes) {
      aborted = true;
      return false;
    }
    return true;
  };
  const useJ = Number.isFinite(req.energyBudgetJoules);
  // Spreading tables count against the node limit too (see GroupFrontsOptions.spend).
  const fronts = groups.map(
    (g) =>
      new GroupFronts(g, candidates.slice(g.first, g.end), {
        latencyBudgetSeconds: req.latencyBudgetSeconds,
        useJoules: useJ,
        spend,
      }),
  );
  /** Seat counts per candidate class of a choice of spreading per group. */
  const countsOf = (points: readonly (FrontPoint | null)[]): Int32Array => {
    const out = new Int32Array(offset[n] as number);
    for (const g of groups) {
      const p = points[g.index];
      if (!p) continue;
      spread(p, g.end - g.first, g.classes.length).forEach((row, m) => {
        const c = candidates[g.first + m];
        c?.classes.forEach((cl, ci) => {
          const k = g.classes.findIndex((gc) => gc.cls === cl.cls);
          out[(offset[c.index] as number) + ci] = k < 0 ? 0 : (row[k] as number);
        });
      });
    }
    return out;
  };
  /** Seats per group class of the group being decided (rows reused; zero outside the current path). */
  const vec = groups.map((g) => new Int32Array(g.classes.length));
  const chosen: (FrontPoint | null)[] = new Array(G).fill(null);
  let best: (FrontPoint | null)[] | null = null;

  const st = emptyState(set);
  const modelValue = new Float64Array(set.models.length);
  let agentValue = 0;
  let nonAgentValue = 0;
  let openSeats = req.classes.reduce((s, k) => s + k.maxTotal, 0);

  // A feasible value to start from: only subtrees that cannot reach it are cut with it (see greedy.ts and
  // group-local-search.ts). Local search pays only when budgets bind; otherwise the bound is tight anyway.
  const newMatching = () => new RoleMatching(problem, R);
  const greedy = greedyPlan(set, newMatching);
  let start: { value: number; counts: Int32Array } | null = null;
  if (greedy) {
    const counts = new Int32Array(offset[n] as number);
    greedy.counts.forEach((row, i) => {
      row.forEach((x, ci) => {
        counts[(offset[i] as number) + ci] = x;
      });
    });
    start = { value: greedy.value, counts };
  }
  if (greedy && budgetsBind(ctx, emptyState(set))) {
    const improved = untilBudget(() => improveGroups(set, fronts, greedy.counts, newMatching));
    if (improved && improved.value > greedy.value) {
      // Checked from scratch before it may cut anything: a start value above the optimum would be wrong.
      const counts = countsOf(improved.points);
      const seats = labelSeats(set, counts, offset, newMatching());
      const ev = seats ? evaluateSeats(set, seats) : undefined;
      if (ev && ev.violations.length === 0 && ev.value > greedy.value) start = { value: ev.value, counts };
    }
  }
  const floorV = start?.value ?? Number.NEGATIVE_INFINITY;
  const floorEps = REL * Math.max(1, Math.abs(floorV));
  let bestV = Number.NEGATIVE_INFINITY;
  let bestS = Number.POSITIVE_INFINITY;
  let rootBound = Number.POSITIVE_INFINITY;

  const value = () => agentValue + nonAgentValue;
  /** Below this total a subtree is cut whatever its cost (lets the bound stop refining early). */
  const cutLevel = (): number =>
    Math.max(
      floorV - floorEps,
      best === null ? Number.NEGATIVE_INFINITY : bestV - REL * Math.max(1, Math.abs(bestV)),
    );
  const canImprove = (ub: number, costLB: number): boolean => {
    if (ub < floorV - floorEps) return false;
    if (best === null) return true;
    const ev = REL * Math.max(1, Math.abs(bestV));
    if (ub < bestV - ev) return false;
    if (ub <= bestV + ev && costLB >= bestS - REL * Math.max(1, bestS)) return false;
    return true;
  };
  const tick = spend;

  const leaf = (): void => {
    for (const cl of req.classes) if ((st.classCount[cl.index] as number) < cl.minTotal) return;
    if (st.agentCount < req.minAgents) return;
    const v = value();
    const ev = REL * Math.max(1, Math.abs(bestV));
    const better =
      best === null || v > bestV + ev || (v >= bestV - ev && st.usedS < bestS - REL * Math.max(1, bestS));
    if (!better) return;
    if (req.roles.some((r) => r.min > 0) && !matching.clone().fixMinimums()) return;
    bestV = v;
    bestS = st.usedS;
    best = chosen.slice();
  };

  /** Seats decided so far in the current group. */
  let gSeats = 0;

  const visitGroup = (gi: number): void => {
    if (!tick()) return;
    if (gi === G || openSeats === 0) {
      leaf();
      return;
    }
    const g = groups[gi];
    if (!g) return;
    if (!suffixCanMeetMinimums(ctx, g.first, st)) return;
    const ub =
      value() +
      suffixValueBound(ctx, g.first, st, gi === 0 ? Number.NEGATIVE_INFINITY : cutLevel() - value());
    if (gi === 0) rootBound = ub;
    if (!canImprove(ub, st.usedS)) return;
    gSeats = 0;
    visitClass(gi, 0);
  };

  /** After the counts: each point of the group's front (seconds ascending) that fits the budgets. */
  const visitSpread = (gi: number): void => {
    const row = vec[gi] as Int32Array;
    if (gSeats === 0) {
      visitGroup(gi + 1);
      gSeats = 0;
      return;
    }
    const front = (fronts[gi] as GroupFronts).front(row);
    for (const p of front) {
      if (!tick()) return;
      const usedS = st.usedS + p.seconds;
      const usedJ = st.usedJ + p.joules;
      if (!fits(usedS, req.computeBudgetSeconds) || !fits(usedJ, req.energyBudgetJoules)) continue;
      const saved = [st.usedS, st.usedJ, gSeats] as const;
      st.usedS = usedS;
      st.usedJ = usedJ;
      chosen[gi] = p;
      visitGroup(gi + 1);
      chosen[gi] = null;
      [st.usedS, st.usedJ, gSeats] = saved;
    }
  };

  const visitClass = (gi: number, ci: number): void => {
    const g = groups[gi];
    if (!g) return;
    if (ci === g.classes.length) {
      visitSpread(gi);
      return;
    }
    if (!tick()) return;
    const gc = g.classes[ci];
    const cls = gc ? req.classes[gc.cls] : undefined;
    if (!gc || !cls) return;
    const row = vec[gi] as Int32Array;
    const famLeft = req.diversityCap - (st.famCount[g.familyIdx] as number);
    const maxX = Math.max(
      0,
      Math.min(
        g.classCap[ci] as number,
        cls.maxTotal - (st.classCount[gc.cls] as number),
        famLeft,
        g.seatCap - gSeats,
      ),
    );

    // Label as many seats as the roles' maxima allow; counts are then tried from high to low.
    let placed = 0;
    while (placed < maxX && matching.place(n + gi, gc.cls)) placed++;

    const seats = st.modelSeats[g.modelIdx] as number[];
    for (let x = placed; x >= 1; x--) {
      if (!aborted) {
        row[ci] = x;
        // The cheapest spreading of the counts so far: none means no member mix holds them (smaller
        // counts may still fit); its cost is a lower bound for any completion (costs grow with seats).
        const front = (fronts[gi] as GroupFronts).front(row);
        const floor = front[0];
        let minJ = Number.POSITIVE_INFINITY;
        for (const p of front) minJ = Math.min(minJ, p.joules);
        if (
          floor &&
          fits(st.usedS + floor.seconds, req.computeBudgetSeconds) &&
          fits(st.usedJ + minJ, req.energyBudgetJoules)
        ) {
          const prev = { agentValue, nonAgentValue, gSeats };
          const oldModel = modelValue[g.modelIdx] as number;
          let at = 0;
          if (gc.agent) {
            while (at < seats.length && (seats[at] as number) >= gc.value) at++;
            for (let j = 0; j < x; j++) seats.splice(at, 0, gc.value);
            const nv = decayedSorted(seats, rho);
            agentValue += nv - oldModel;
            modelValue[g.modelIdx] = nv;
            st.agentCount += x;
          } else {
            nonAgentValue += x * gc.value;
          }
          gSeats += x;
          st.classCount[gc.cls] = (st.classCount[gc.cls] as number) + x;
          for (const r of gc.roles) st.eligibleCount[r] = (st.eligibleCount[r] as number) + x;
          st.famCount[g.familyIdx] = (st.famCount[g.familyIdx] as number) + x;
          openSeats -= x;

          visitClass(gi, ci + 1);

          openSeats += x;
          st.famCount[g.familyIdx] = (st.famCount[g.familyIdx] as number) - x;
          for (const r of gc.roles) st.eligibleCount[r] = (st.eligibleCount[r] as number) - x;
          st.classCount[gc.cls] = (st.classCount[gc.cls] as number) - x;
          if (gc.agent) {
            seats.splice(at, x);
            modelValue[g.modelIdx] = oldModel;
            st.agentCount -= x;
          }
          // Restored, not subtracted back, so no rounding drift builds up over many nodes.
          agentValue = prev.agentValue;
          nonAgentValue = prev.nonAgentValue;
          gSeats = prev.gSeats;
        }
      }
      matching.pop();
    }
    row[ci] = 0;
    if (!aborted) visitClass(gi, ci + 1);
  };

  untilBudget(() => visitGroup(0));

  const chosenBest = best as (FrontPoint | null)[] | null;
  let finalCounts: Int32Array | null = chosenBest === null ? null : countsOf(chosenBest);
  // Stopped early with nothing better than the start plan: fall back to it (still feasible, not proven).
  if (aborted && start && (finalCounts === null || (bestV as number) < start.value)) {
    finalCounts = start.counts;
    bestV = start.value;
    bestS = Number.NaN;
  }
  if (finalCounts === null)
    return {
      seats: null,
      value: 0,
      computeSeconds: 0,
      nodes,
      exact: !aborted,
      upperBound: aborted ? rootBound : 0,
    };
  const seats = labelSeats(set, finalCounts, offset, new RoleMatching(problem, R));
  if (seats === null) throw new Error("broker internal: optimal counts could not be labelled with roles");
  return {
    seats,
    value: bestV,
    computeSeconds: bestS,
    nodes,
    exact: !aborted,
    upperBound: aborted ? Math.max(bestV, rootBound) : bestV,
  };
}
