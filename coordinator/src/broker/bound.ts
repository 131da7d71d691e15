/**
 * Bounds of the branch-and-bound over the suffix still open (suffix-data.ts).
 *
 * Upper bound on the value the suffix can still add — valid because plan value is monotone and
 * submodular in the seats (value.ts):
 * - Agent seats, per model m (and family) with chosen agent seats S and suffix units U (sorted descending): n more seats
 *   add at most G(n) = f(S ∪ top_n(U)) − f(S) (f = the decayed sum; any n units are dominated element-wise
 *   by the top n) and cost at least P(n) (suffix-data.ts).
 * - Budgets by Lagrangian relaxation: for a price λ ≥ 0, bound(λ) = λ·capacity + the best Σ(G − λP) over
 *   models, where each model's h(n) = G(n) − λP(n) is replaced by its upper concave envelope so that a greedy
 *   over the envelopes' increments — under the open agent seats and the family caps, a matroid — solves the
 *   relaxation. Every λ gives a valid bound; bisection on the subgradient (capacity − cost of the selection)
 *   looks for the least, and stops early once the bound already cuts. Coupling value and cost per model is
 *   what makes this tight: a worker's cheap extra seats are also its model's decayed ones.
 * - Non-agent classes: open seats × the best value the suffix offers, net of λ × a cost floor (each seat's
 *   σ·s share, plus one excess for the plan's largest non-agent seat; suffix-data.ts).
 * Feasibility: open minimums (per role, per class, agents) against the suffix's capacity, and the cheapest
 * way to add the seats still needed against the budgets.
 */
import type { CandidateSet } from "./candidates.js";
import type { ModelUnits, SuffixData } from "./suffix-data.js";
import { fits } from "./value.js";

/** Mutable search state the bounds read (owned by the solver). */
export interface BoundState {
  classCount: Int32Array;
  /** Chosen seats whose worker may take role r. */
  eligibleCount: Int32Array;
  agentCount: number;
  famCount: Int32Array;
  /** Agent seat values per model, sorted descending. */
  modelSeats: number[][];
  usedS: number;
  usedJ: number;
}

export interface BoundContext {
  set: CandidateSet;
  data: SuffixData;
  heads: Int32Array;
  famLeft: Float64Array;
  /** Per model of the current suffix: G(n), and the envelope increments at the current λ. */
  gains: Float64Array[];
  /** Per-model scratch for G when the model already has seats (the static curves are never written). */
  scratch: Float64Array[];
  incs: Float64Array[];
  incLen: Int32Array;
  hull: Int32Array;
  hv: Float64Array;
  openAgents: number;
  lastCost: number;
}

export function boundContext(set: CandidateSet, data: SuffixData): BoundContext {
  // One curve per (model, family) group of a suffix: at most one per candidate.
  const m = Math.max(1, set.candidates.length);
  const len = Math.max(1, data.maxAgentSeats);
  return {
    set,
    data,
    heads: new Int32Array(m),
    famLeft: new Float64Array(set.families.length),
    gains: new Array(m),
    scratch: Array.from({ length: m }, () => new Float64Array(len + 1)),
    incs: Array.from({ length: m }, () => new Float64Array(len)),
    incLen: new Int32Array(m),
    hull: new Int32Array(len + 1),
    hv: new Float64Array(len + 1),
    openAgents: 0,
    lastCost: 0,
  };
}

/** Decayed sum of the merge of `s` (descending) and the first `n` of `u` (descending). */
function mergedSum(s: readonly number[], u: Float64Array, n: number, rho: number): number {
  let i = 0;
  let j = 0;
  let w = 1;
  let total = 0;
  while (i < s.length || j < n) {
    const a = i < s.length ? (s[i] as number) : Number.NEGATIVE_INFINITY;
    const b = j < n ? (u[j] as number) : Number.NEGATIVE_INFINITY;
    if (a >= b) {
      total += w * a;
      i++;
    } else {
      total += w * b;
      j++;
    }
    w *= rho;
  }
  return total;
}

/** Length of model i's curves at the current node (open agents and family room cap it). */
function curveLength(ctx: BoundContext, m: ModelUnits): number {
  return Math.max(0, Math.min(m.raw.length, ctx.openAgents, ctx.famLeft[m.family] as number));
}

/**
 * Positive increments of the upper concave envelope of h(j) = G(j) − λP(j), j = 0..len, into `out`
 * (non-increasing); returns how many.
 */
function envelope(
  ctx: BoundContext,
  g: Float64Array,
  p: Float64Array,
  lambda: number,
  len: number,
  out: Float64Array,
): number {
  const hull = ctx.hull;
  const h = ctx.hv;
  for (let j = 0; j <= len; j++) h[j] = (g[j] as number) - lambda * (p[j] as number);
  let top = 0;
  for (let j = 0; j <= len; j++) {
    const hj = h[j] as number;
    while (top >= 2) {
      const a = hull[top - 2] as number;
      const b = hull[top - 1] as number;
      const ha = h[a] as number;
      // Drop b when it lies on or below the segment a→j.
      if (((h[b] as number) - ha) * (j - a) <= (hj - ha) * (b - a)) top--;
      else break;
    }
    hull[top++] = j;
  }
  let count = 0;
  for (let s = 0; s + 1 < top; s++) {
    const a = hull[s] as number;
    const b = hull[s + 1] as number;
    const slope = ((h[b] as number) - (h[a] as number)) / (b - a);
    if (slope <= 0) break;
    for (let j = a; j < b; j++) out[count++] = slope;
  }
  return count;
}

/**
 * Non-agent classes at price λ: each open seat nets v − λ·(its σ·s share); the plan's largest excess
 * (suffix-data.ts) is charged once, so the options are "none", or "class k* pays its excess and only classes
 * whose excess is at most k*'s join it". Returns the best net; its cost goes to ctx.lastCost.
 */
function nonAgentNet(ctx: BoundContext, st: BoundState, wi: number, lambda: number, useJ: boolean): number {
  const { data, set } = ctx;
  const K = data.classes;
  const share = useJ ? data.nonAgentShareJ : data.nonAgentShareS;
  const excess = useJ ? data.nonAgentExcessJ : data.nonAgentExcessS;
  let bestNet = 0;
  let bestCost = 0;
  for (const star of set.req.classes) {
    if (star.agent || star.maxTotal - (st.classCount[star.index] as number) <= 0) continue;
    const eStar = excess[wi * K + star.index] as number;
    if (!Number.isFinite(eStar)) continue;
    let net = -lambda * eStar;
    let cost = eStar;
    for (const cl of set.req.classes) {
      const open = cl.maxTotal - (st.classCount[cl.index] as number);
      if (cl.agent || open <= 0) continue;
      const at = wi * K + cl.index;
      if (cl.index !== star.index && (excess[at] as number) > eStar) continue;
      const unit = (data.nonAgentMax[at] as number) - lambda * (share[at] as number);
      if (unit > 0) {
        net += open * unit;
        cost += open * (share[at] as number);
      } else if (cl.index === star.index) {
        // k* holds at least one seat.
        net += unit;
        cost += share[at] as number;
      }
    }
    if (net > bestNet) {
      bestNet = net;
      bestCost = cost;
    }
  }
  ctx.lastCost = bestCost;
  return bestNet;
}

/** Best Σ(G − λP) of the relaxation plus the non-agent part; the selection's cost goes to ctx.lastCost. */
function innerNet(ctx: BoundContext, st: BoundState, wi: number, lambda: number, useJ: boolean): number {
  const { data, set } = ctx;
  const models = data.models[wi] ?? [];
  const n = ctx.openAgents === 0 ? 0 : models.length;
  const famLeft = ctx.famLeft;
  const cap = set.req.diversityCap;
  for (let f = 0; f < famLeft.length; f++) famLeft[f] = cap - (st.famCount[f] as number);
  for (let i = 0; i < n; i++) {
    const m = models[i] as ModelUnits;
    const len = curveLength(ctx, m);
    ctx.incLen[i] = envelope(
      ctx,
      ctx.gains[i] as Float64Array,
      useJ ? m.costJ : m.costS,
      lambda,
      len,
      ctx.incs[i] as Float64Array,
    );
    ctx.heads[i] = 0;
  }
  let net = 0;
  for (let k = 0; k < ctx.openAgents; k++) {
    let best = -1;
    let bestV = 0;
    for (let i = 0; i < n; i++) {
      const m = models[i] as ModelUnits;
      const h = ctx.heads[i] as number;
      if (h >= (ctx.incLen[i] as number) || (famLeft[m.family] as number) <= 0) continue;
      const v = (ctx.incs[i] as Float64Array)[h] as number;
      if (v > bestV) {
        bestV = v;
        best = i;
      }
    }
    if (best < 0) break;
    net += bestV;
    ctx.heads[best] = (ctx.heads[best] as number) + 1;
    const fam = (models[best] as ModelUnits).family;
    famLeft[fam] = (famLeft[fam] as number) - 1;
  }
  let cost = 0;
  for (let i = 0; i < n; i++) {
    const m = models[i] as ModelUnits;
    cost += (useJ ? m.costJ : m.costS)[ctx.heads[i] as number] as number;
  }
  net += nonAgentNet(ctx, st, wi, lambda, useJ);
  cost += ctx.lastCost;
  ctx.lastCost = cost;
  return net;
}

/** λ beyond which nothing has a positive net (Infinity when something is free). */
function maxPrice(ctx: BoundContext, wi: number, st: BoundState, useJ: boolean): number {
  const { data, set } = ctx;
  let hi = 0;
  const famLeft = ctx.famLeft;
  for (let f = 0; f < famLeft.length; f++) famLeft[f] = set.req.diversityCap - (st.famCount[f] as number);
  const models = data.models[wi] ?? [];
  const n = ctx.openAgents === 0 ? 0 : models.length;
  for (let i = 0; i < n; i++) {
    const m = models[i] as ModelUnits;
    const g = ctx.gains[i] as Float64Array;
    const p = useJ ? m.costJ : m.costS;
    for (let j = 1; j <= curveLength(ctx, m); j++) {
      if ((g[j] as number) <= 0) continue;
      if ((p[j] as number) <= 0) return Number.POSITIVE_INFINITY;
      hi = Math.max(hi, (g[j] as number) / (p[j] as number));
    }
  }
  const K = data.classes;
  const share = useJ ? data.nonAgentShareJ : data.nonAgentShareS;
  for (const cl of set.req.classes) {
    if (cl.agent || cl.maxTotal - (st.classCount[cl.index] as number) <= 0) continue;
    const v = data.nonAgentMax[wi * K + cl.index] as number;
    const c = share[wi * K + cl.index] as number;
    if (v <= 0) continue;
    if (c <= 0) return Number.POSITIVE_INFINITY;
    hi = Math.max(hi, v / c);
  }
  return hi;
}

function lagrangian(
  ctx: BoundContext,
  st: BoundState,
  wi: number,
  capacity: number,
  useJ: boolean,
  cut: number,
): number {
  let best = innerNet(ctx, st, wi, 0, useJ);
  if (ctx.lastCost <= capacity || best < cut) return best;
  let lo = 0;
  let hi = maxPrice(ctx, wi, st, useJ);
  if (!Number.isFinite(hi)) return best;
  best = Math.min(best, hi * capacity);
  for (let it = 0; it < 14 && best >= cut; it++) {
    const mid = (lo + hi) / 2;
    const ub = mid * capacity + innerNet(ctx, st, wi, mid, useJ);
    if (ub < best) best = ub;
    if (ctx.lastCost > capacity) lo = mid;
    else hi = mid;
  }
  return best;
}

/**
 * Upper bound on the value the suffix from `wi` can still add. May stop refining (and return a bound
 * below `cut`) as soon as the bound is known to be below `cut`.
 */
export function suffixValueBound(
  ctx: BoundContext,
  wi: number,
  st: BoundState,
  cut = Number.NEGATIVE_INFINITY,
): number {
  const { set, data } = ctx;
  const { req } = set;
  let openAgents = 0;
  for (const cl of req.classes) {
    const open = cl.maxTotal - (st.classCount[cl.index] as number);
    if (open > 0 && cl.agent) openAgents += open;
  }
  ctx.openAgents = openAgents;
  const models = data.models[wi] ?? [];
  const rho = req.repeatDecay;
  const cap = req.diversityCap;
  for (let f = 0; f < ctx.famLeft.length; f++) ctx.famLeft[f] = cap - (st.famCount[f] as number);
  if (openAgents > 0) {
    for (let i = 0; i < models.length; i++) {
      const m = models[i] as ModelUnits;
      const seats = st.modelSeats[m.model] as number[];
      if (seats.length === 0) {
        ctx.gains[i] = m.gain;
        continue;
      }
      const g = ctx.scratch[i] as Float64Array;
      const len = curveLength(ctx, m);
      const base = mergedSum(seats, m.raw, 0, rho);
      g[0] = 0;
      for (let j = 1; j <= len; j++) g[j] = mergedSum(seats, m.raw, j, rho) - base;
      ctx.gains[i] = g;
    }
  }
  const capS = req.computeBudgetSeconds - st.usedS;
  const capJ = req.energyBudgetJoules - st.usedJ;
  let bound = Number.POSITIVE_INFINITY;
  if (Number.isFinite(capS)) bound = Math.min(bound, lagrangian(ctx, st, wi, Math.max(0, capS), false, cut));
  if (Number.isFinite(capJ) && bound >= cut)
    bound = Math.min(bound, lagrangian(ctx, st, wi, Math.max(0, capJ), true, cut));
  if (!Number.isFinite(bound)) bound = innerNet(ctx, st, wi, 0, false);
  return bound;
}

/**
 * Whether the budgets can bind: the cost of the unbudgeted relaxation's selection at the root exceeds a
 * finite budget. Used only to pick the search order (either order gives the same, exact plan).
 */
export function budgetsBind(ctx: BoundContext, st: BoundState): boolean {
  const { req } = ctx.set;
  if (!Number.isFinite(req.computeBudgetSeconds) && !Number.isFinite(req.energyBudgetJoules)) return false;
  suffixValueBound(ctx, 0, st);
  innerNet(ctx, st, 0, 0, false);
  if (ctx.lastCost > req.computeBudgetSeconds) return true;
  innerNet(ctx, st, 0, 0, true);
  return ctx.lastCost > req.energyBudgetJoules;
}

/** Whether the suffix from `wi` can still meet every minimum within the budgets (a necessary condition). */
export function suffixCanMeetMinimums(ctx: BoundContext, wi: number, st: BoundState): boolean {
  const { set, data } = ctx;
  const { req } = set;
  const R = data.roles;
  const K = data.classes;
  for (const role of req.roles) {
    if (role.min === 0) continue;
    if (role.min > (st.eligibleCount[role.index] as number) + (data.roleCap[wi * R + role.index] as number))
      return false;
  }
  let needSeats = 0;
  for (const cl of req.classes) {
    const need = cl.minTotal - (st.classCount[cl.index] as number);
    if (need <= 0) continue;
    if (need > (data.classCap[wi * K + cl.index] as number)) return false;
    needSeats += need;
  }
  const needAgents = req.minAgents - st.agentCount;
  if (needAgents > (data.agentCap[wi] as number)) return false;
  needSeats = Math.max(needSeats, needAgents);
  if (needSeats <= 0) return true;
  if (needSeats > (data.slotCap[wi] as number)) return false;
  const cs = data.cheapS[wi] as Float64Array;
  const cj = data.cheapJ[wi] as Float64Array;
  if (needSeats >= cs.length) return false;
  return (
    fits(st.usedS + (cs[needSeats] as number), req.computeBudgetSeconds) &&
    fits(st.usedJ + (cj[needSeats] as number), req.energyBudgetJoules)
  );
}
