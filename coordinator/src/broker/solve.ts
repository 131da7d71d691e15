/**
 * Exact branch-and-bound over the candidate table.
 *
 * Objective, lexicographic: (1) higher total value, (2) lower total compute seconds, (3) among exact ties,
 * the plan with the lexicographically greatest seat-count vector (workers in canonical order, then role
 * classes): it seats as much as possible on workers earlier in the canonical order (candidates.ts), and
 * identical workers are filled in worker-id order. Values and seconds compare with a relative tolerance
 * of 1e-9.
 *
 * Search: depth-first over workers in canonical order; for each worker, over its role classes, trying seat
 * counts from high to low. Later plans are therefore visited in decreasing lexicographic order, which makes
 * tie-break (3) hold without comparing vectors: a plan replaces the incumbent only when strictly better on
 * (1) or (2). A subtree is cut when its value bound cannot beat the incumbent (or can only tie it without
 * being cheaper), when the open minimums can no longer be met, or when it breaks a budget or the latency
 * budget. Seats are labelled with roles by an incremental bipartite matching (roles-matching.ts), so a
 * branch that cannot be labelled within the roles' maxima is cut at once and minimums are checked at the
 * leaves. A greedy plan's value (greedy.ts) cuts, from the start, the subtrees that cannot reach it.
 * Identical workers (same model, family, slots, speeds, values and eligible roles) take
 * non-increasing seat vectors, which removes their permutations from the search.
 */
import {
  type BoundState,
  boundContext,
  budgetsBind,
  suffixCanMeetMinimums,
  suffixValueBound,
} from "./bound.js";
import type { CandidateSet } from "./candidates.js";
import type { SeatChoice } from "./evaluate.js";
import { greedyPlan } from "./greedy.js";
import { RoleMatching } from "./roles-matching.js";
import { buildSuffixData, type SuffixData } from "./suffix-data.js";
import { fits } from "./value.js";

export interface SolveResult {
  /** Null when no assignment meets every constraint. */
  seats: SeatChoice[] | null;
  value: number;
  /** Compute seconds of the plan (NaN for the greedy fallback; plan.ts re-evaluates the seats anyway). */
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

/** Whether the budgets can bind at all (then the search goes in value-per-cost order). */
export function budgetsMayBind(set: CandidateSet, data: SuffixData = buildSuffixData(set)): boolean {
  return budgetsBind(boundContext(set, data), emptyState(set));
}

/** `data` may be passed when already built for this exact candidate set. */
export function solveExact(set: CandidateSet, data: SuffixData = buildSuffixData(set)): SolveResult {
  const { candidates, req } = set;
  const n = candidates.length;
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
  const problem = {
    roleMin,
    roleMax,
    eligible: (w: number, k: number): readonly number[] => eligibleRoles[w]?.[k] ?? [],
  };
  const matching = new RoleMatching(problem, R);

  // Flat count vector: offset of each candidate's classes.
  const offset = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) offset[i + 1] = (offset[i] as number) + (candidates[i]?.classes.length ?? 0);
  const counts = new Int32Array(offset[n] as number);
  let bestCounts: Int32Array | null = null;

  const st = emptyState(set);
  const modelValue = new Float64Array(set.models.length);
  let agentValue = 0;
  let nonAgentValue = 0;
  let openSeats = req.classes.reduce((s, k) => s + k.maxTotal, 0);

  // A feasible value from the greedy: only subtrees that cannot reach it are cut with it (see greedy.ts).
  const greedy = greedyPlan(set, () => new RoleMatching(problem, R));
  const floorV = greedy?.value ?? Number.NEGATIVE_INFINITY;
  const floorEps = REL * Math.max(1, Math.abs(floorV));
  let bestV = Number.NEGATIVE_INFINITY;
  let bestS = Number.POSITIVE_INFINITY;
  let nodes = 0;
  let aborted = false;
  let rootBound = Number.POSITIVE_INFINITY;

  const value = () => agentValue + nonAgentValue;
  /** Below this total a subtree is cut whatever its cost (lets the bound stop refining early). */
  const cutLevel = (): number =>
    Math.max(
      floorV - floorEps,
      bestCounts === null ? Number.NEGATIVE_INFINITY : bestV - REL * Math.max(1, Math.abs(bestV)),
    );
  const canImprove = (ub: number, costLB: number): boolean => {
    if (ub < floorV - floorEps) return false;
    if (bestCounts === null) return true;
    const ev = REL * Math.max(1, Math.abs(bestV));
    if (ub < bestV - ev) return false;
    if (ub <= bestV + ev && costLB >= bestS - REL * Math.max(1, bestS)) return false;
    return true;
  };

  const leaf = (): void => {
    for (const cl of req.classes) if ((st.classCount[cl.index] as number) < cl.minTotal) return;
    if (st.agentCount < req.minAgents) return;
    const v = value();
    const ev = REL * Math.max(1, Math.abs(bestV));
    const better =
      bestCounts === null ||
      v > bestV + ev ||
      (v >= bestV - ev && st.usedS < bestS - REL * Math.max(1, bestS));
    if (!better) return;
    if (req.roles.some((r) => r.min > 0) && !matching.clone().fixMinimums()) return;
    bestV = v;
    bestS = st.usedS;
    bestCounts = counts.slice();
  };

  let wMax = 0;
  let wSum = 0;
  let wSeats = 0;

  const visitWorker = (wi: number): void => {
    if (aborted) return;
    if (++nodes > req.maxNodes) {
      aborted = true;
      return;
    }
    if (wi === n || openSeats === 0) {
      leaf();
      return;
    }
    if (!suffixCanMeetMinimums(ctx, wi, st)) return;
    const ub =
      value() + suffixValueBound(ctx, wi, st, wi === 0 ? Number.NEGATIVE_INFINITY : cutLevel() - value());
    if (wi === 0) rootBound = ub;
    if (!canImprove(ub, st.usedS)) return;
    const rest = wi + 1 < n ? suffixValueBound(ctx, wi + 1, st) : 0;
    wMax = 0;
    wSum = 0;
    wSeats = 0;
    visitClass(wi, 0, rest, true);
  };

  const visitClass = (wi: number, ci: number, restBound: number, tied: boolean): void => {
    const c = candidates[wi];
    if (!c) return;
    if (ci === c.classes.length) {
      const saved = [wMax, wSum, wSeats] as const;
      visitWorker(wi + 1);
      [wMax, wSum, wSeats] = saved;
      return;
    }
    if (aborted) return;
    if (++nodes > req.maxNodes) {
      aborted = true;
      return;
    }
    const cl = c.classes[ci];
    const cls = cl ? req.classes[cl.cls] : undefined;
    if (!cl || !cls) return;
    const slotsLeft = c.slots - wSeats;
    const famLeft = req.diversityCap - (st.famCount[c.familyIdx] as number);
    const twinCount =
      tied && c.twinOf >= 0
        ? (counts[(offset[c.twinOf] as number) + ci] as number)
        : Number.POSITIVE_INFINITY;
    const maxX = Math.max(
      0,
      Math.min(slotsLeft, cls.maxTotal - (st.classCount[cl.cls] as number), famLeft, twinCount),
    );

    // Bound for the rest of this worker: its open seats at this class's value (classes are sorted by value).
    if (bestCounts !== null) {
      let open = 0;
      for (let q = ci; q < c.classes.length; q++) {
        const k = req.classes[(c.classes[q] as { cls: number }).cls];
        if (k) open += k.maxTotal - (st.classCount[k.index] as number);
      }
      const here = Math.max(0, Math.min(slotsLeft, open, famLeft)) * cl.value;
      if (!canImprove(value() + restBound + here, st.usedS)) return;
    }

    // Label as many seats as the roles' maxima allow; counts are then tried from high to low.
    let placed = 0;
    while (placed < maxX && matching.place(wi, cl.cls)) placed++;

    const sigma = c.sigma;
    const tBefore = wSeats === 0 ? 0 : wMax + sigma * (wSum - wMax);
    const seats = st.modelSeats[c.modelIdx] as number[];
    for (let x = placed; x >= 1; x--) {
      if (!aborted) {
        const newMax = Math.max(wMax, cl.seconds);
        const newSum = wSum + x * cl.seconds;
        const t = newMax + sigma * (newSum - newMax);
        const dS = t - tBefore;
        const usedS = st.usedS + dS;
        const usedJ = st.usedJ + dS * c.watts;
        if (
          fits(t, req.latencyBudgetSeconds) &&
          fits(usedS, req.computeBudgetSeconds) &&
          fits(usedJ, req.energyBudgetJoules)
        ) {
          const prev = { wMax, wSum, wSeats, usedS: st.usedS, usedJ: st.usedJ, agentValue, nonAgentValue };
          const oldModel = modelValue[c.modelIdx] as number;
          let at = 0;
          if (cl.agent) {
            while (at < seats.length && (seats[at] as number) >= cl.value) at++;
            for (let j = 0; j < x; j++) seats.splice(at, 0, cl.value);
            const nv = decayedSorted(seats, rho);
            agentValue += nv - oldModel;
            modelValue[c.modelIdx] = nv;
            st.agentCount += x;
          } else {
            nonAgentValue += x * cl.value;
          }
          wMax = newMax;
          wSum = newSum;
          wSeats += x;
          st.usedS = usedS;
          st.usedJ = usedJ;
          st.classCount[cl.cls] = (st.classCount[cl.cls] as number) + x;
          for (const r of cl.roles) st.eligibleCount[r] = (st.eligibleCount[r] as number) + x;
          st.famCount[c.familyIdx] = (st.famCount[c.familyIdx] as number) + x;
          openSeats -= x;
          counts[(offset[wi] as number) + ci] = x;

          visitClass(wi, ci + 1, restBound, tied && x === twinCount);

          counts[(offset[wi] as number) + ci] = 0;
          openSeats += x;
          st.famCount[c.familyIdx] = (st.famCount[c.familyIdx] as number) - x;
          for (const r of cl.roles) st.eligibleCount[r] = (st.eligibleCount[r] as number) - x;
          st.classCount[cl.cls] = (st.classCount[cl.cls] as number) - x;
          if (cl.agent) {
            seats.splice(at, x);
            modelValue[c.modelIdx] = oldModel;
            st.agentCount -= x;
          }
          // Restored, not subtracted back, so no rounding drift builds up over many nodes.
          agentValue = prev.agentValue;
          nonAgentValue = prev.nonAgentValue;
          st.usedS = prev.usedS;
          st.usedJ = prev.usedJ;
          wMax = prev.wMax;
          wSum = prev.wSum;
          wSeats = prev.wSeats;
        }
      }
      matching.pop();
    }
    if (!aborted) visitClass(wi, ci + 1, restBound, tied && twinCount === 0);
  };

  visitWorker(0);

  // Stopped early with nothing better than the greedy plan: fall back to it (still feasible, not proven).
  if (aborted && greedy && (bestCounts === null || (bestV as number) < greedy.value)) {
    const fallback = new Int32Array(counts.length);
    greedy.counts.forEach((row, i) => {
      row.forEach((x, ci) => {
        fallback[(offset[i] as number) + ci] = x;
      });
    });
    bestCounts = fallback;
    bestV = greedy.value;
    bestS = Number.NaN;
  }
  const finalCounts = bestCounts as Int32Array | null;
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
