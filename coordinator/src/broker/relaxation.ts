/**
 * The Lagrangian relaxation the bound (bound.ts) evaluates: at prices λS ≥ 0 per second and λJ ≥ 0 per
 * joule, the most Σ(value − λS·seconds − λJ·joules) the suffix can add under the open seats and the family
 * caps, over upper bounds on value and lower bounds on cost (suffix-data.ts):
 * - Agent seats: per (model, family), n more seats add at most G(n) and cost at least P(n); h(n) =
 *   G(n) − λS·PS(n) − λJ·PJ(n) is replaced by its upper concave envelope, and a greedy over the envelopes'
 *   increments — under the open agent seats and the family caps, a matroid — takes the best ones.
 * - Non-agent classes: none, or one seat of class k* paying share and excess (the plan's largest excess) and
 *   every other open non-agent seat its share (suffix-data.ts), each at the best option of its family's list
 *   (seat-options.ts) among the families with room. A non-agent seat also takes one of its family's seats
 *   under the diversity cap, so it is charged what the agent selection loses when that family has one
 *   seat less; several such losses add up to no more than the loss of all removals together, so the sum is
 *   a valid charge.
 */
import type { CandidateSet } from "./candidates.js";
import { bestOption, breakEvenPrice, type SeatOptions } from "./seat-options.js";
import type { ModelUnits, SuffixData } from "./suffix-data.js";

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
  /** Per model of the current suffix: G(n), and the envelope increments at the current prices. */
  gains: Float64Array[];
  /** Per-model scratch for G when the model already has seats (the static curves are never written). */
  scratch: Float64Array[];
  incs: Float64Array[];
  incLen: Int32Array;
  hull: Int32Array;
  hv: Float64Array;
  openAgents: number;
  /** Seconds and joules of the last relaxed selection (the subgradient of the prices). */
  lastCostS: number;
  lastCostJ: number;
  /** Per role class: the best share net and its costs at the current prices (non-agent scratch). */
  shareNet: Float64Array;
  shareCostS: Float64Array;
  shareCostJ: Float64Array;
  /** Per family: what the agent selection loses when the family has one seat less (see innerNet). */
  famLoss: Float64Array;
  option: { net: number; costS: number; costJ: number };
  /** The best prices found at the last bound (where the next search starts). */
  hintS: number;
  hintJ: number;
}

export function boundContext(set: CandidateSet, data: SuffixData): BoundContext {
  // One curve per (model, family) group of a suffix: at most one per candidate.
  const m = Math.max(1, set.candidates.length);
  const len = Math.max(1, data.maxAgentSeats);
  const K = set.req.classes.length;
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
    lastCostS: 0,
    lastCostJ: 0,
    shareNet: new Float64Array(K),
    shareCostS: new Float64Array(K),
    shareCostJ: new Float64Array(K),
    famLoss: new Float64Array(set.families.length),
    option: { net: 0, costS: 0, costJ: 0 },
    hintS: 0,
    hintJ: 0,
  };
}

/** Length of model i's curves at the current node (open agents and family room cap it). */
export function curveLength(ctx: BoundContext, m: ModelUnits): number {
  return Math.max(0, Math.min(m.raw.length, ctx.openAgents, ctx.famLeft[m.family] as number));
}

function resetFamilies(ctx: BoundContext, st: BoundState): void {
  const cap = ctx.set.req.diversityCap;
  for (let f = 0; f < ctx.famLeft.length; f++) ctx.famLeft[f] = cap - (st.famCount[f] as number);
}

/**
 * Positive increments of the upper concave envelope of h(j) = G(j) − λS·PS(j) − λJ·PJ(j), j = 0..len,
 * into `out` (non-increasing); returns how many.
 */
function envelope(
  ctx: BoundContext,
  g: Float64Array,
  m: ModelUnits,
  lamS: number,
  lamJ: number,
  len: number,
  out: Float64Array,
): number {
  const hull = ctx.hull;
  const h = ctx.hv;
  for (let j = 0; j <= len; j++)
    h[j] =
      (g[j] as number) - lamS * (m.costS[j] as number) - (lamJ === 0 ? 0 : lamJ * (m.costJ[j] as number));
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

/** Non-agent part at the prices (see the module comment); its costs go to ctx.lastCostS/J. */
function nonAgentNet(ctx: BoundContext, st: BoundState, wi: number, lamS: number, lamJ: number): number {
  const { data, set } = ctx;
  const K = data.classes;
  const F = data.families;
  const cap = set.req.diversityCap;
  const opt = ctx.option;
  const { shareNet, shareCostS, shareCostJ, famLoss } = ctx;
  let sharesNet = 0;
  let sharesS = 0;
  let sharesJ = 0;
  let mandatory = false;
  for (const cl of set.req.classes) {
    const k = cl.index;
    shareNet[k] = 0;
    shareCostS[k] = 0;
    shareCostJ[k] = 0;
    const open = cl.maxTotal - (st.classCount[k] as number);
    if (cl.agent || open <= 0) continue;
    const need = Math.max(0, cl.minTotal - (st.classCount[k] as number));
    let best = Number.NEGATIVE_INFINITY;
    for (let f = 0; f < F; f++) {
      if (cap - (st.famCount[f] as number) <= 0) continue;
      const o = data.nonAgent[(wi * K + k) * F + f] as SeatOptions;
      if (!bestOption(o, lamS, lamJ, false, opt)) continue;
      const net = opt.net - (famLoss[f] as number);
      if (net > best) {
        best = net;
        shareCostS[k] = opt.costS;
        shareCostJ[k] = opt.costJ;
      }
    }
    if (need > 0) {
      // Seats a feasible plan must still fill count whatever their net.
      if (best === Number.NEGATIVE_INFINITY) return Number.NEGATIVE_INFINITY;
      mandatory = true;
    } else if (best <= 0) continue;
    // shareNet[k]: the net of one counted seat (the one a k* seat would replace).
    const counted = best > 0 ? open : need;
    shareNet[k] = best;
    sharesNet += counted * best;
    sharesS += counted * (shareCostS[k] as number);
    sharesJ += counted * (shareCostJ[k] as number);
  }
  // "No non-agent seat" is an option only when no seat is required.
  let bestNet = mandatory ? Number.NEGATIVE_INFINITY : 0;
  let bestS = 0;
  let bestJ = 0;
  for (const star of set.req.classes) {
    const k = star.index;
    if (star.agent || star.maxTotal - (st.classCount[k] as number) <= 0) continue;
    const counted = shareNet[k] !== 0;
    for (let f = 0; f < F; f++) {
      if (cap - (st.famCount[f] as number) <= 0) continue;
      const o = data.nonAgent[(wi * K + k) * F + f] as SeatOptions;
      if (!bestOption(o, lamS, lamJ, true, opt)) continue;
      // k*'s full seat replaces one of its counted share seats, if any.
      const net = sharesNet - (counted ? (shareNet[k] as number) : 0) + opt.net - (famLoss[f] as number);
      if (net > bestNet) {
        bestNet = net;
        bestS = sharesS - (counted ? (shareCostS[k] as number) : 0) + opt.costS;
        bestJ = sharesJ - (counted ? (shareCostJ[k] as number) : 0) + opt.costJ;
      }
    }
  }
  ctx.lastCostS = bestS;
  ctx.lastCostJ = bestJ;
  return bestNet;
}

/** The relaxation's best net at prices (λS, λJ); the selection's costs go to ctx.lastCostS/J. */
export function innerNet(ctx: BoundContext, st: BoundState, wi: number, lamS: number, lamJ: number): number {
  const models = ctx.data.models[wi] ?? [];
  const n = ctx.openAgents === 0 ? 0 : models.length;
  const famLeft = ctx.famLeft;
  resetFamilies(ctx, st);
  for (let i = 0; i < n; i++) {
    const m = models[i] as ModelUnits;
    const len = curveLength(ctx, m);
    ctx.incLen[i] = envelope(
      ctx,
      ctx.gains[i] as Float64Array,
      m,
      lamS,
      lamJ,
      len,
      ctx.incs[i] as Float64Array,
    );
    ctx.heads[i] = 0;
  }
  let net = 0;
  let picked = 0;
  const famLoss = ctx.famLoss;
  famLoss.fill(0);
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
    picked++;
    ctx.heads[best] = (ctx.heads[best] as number) + 1;
    const fam = (models[best] as ModelUnits).family;
    famLeft[fam] = (famLeft[fam] as number) - 1;
    // Picks come in non-increasing order: the family's last pick is its smallest.
    famLoss[fam] = bestV;
  }
  // What the selection loses when family f has one seat less: nothing unless f is full; then its smallest
  // pick goes, replaced — when the open agent seats were the limit — by the best increment still open in a
  // family with room (a greedy over a matroid: the rest of the selection stays).
  let replacement = 0;
  if (picked === ctx.openAgents) {
    for (let i = 0; i < n; i++) {
      const m = models[i] as ModelUnits;
      const h = ctx.heads[i] as number;
      if (h >= (ctx.incLen[i] as number) || (famLeft[m.family] as number) <= 0) continue;
      replacement = Math.max(replacement, (ctx.incs[i] as Float64Array)[h] as number);
    }
  }
  for (let f = 0; f < famLoss.length; f++)
    famLoss[f] = (famLeft[f] as number) <= 0 ? Math.max(0, (famLoss[f] as number) - replacement) : 0;
  let costS = 0;
  let costJ = 0;
  for (let i = 0; i < n; i++) {
    const m = models[i] as ModelUnits;
    costS += m.costS[ctx.heads[i] as number] as number;
    costJ += m.costJ[ctx.heads[i] as number] as number;
  }
  net += nonAgentNet(ctx, st, wi, lamS, lamJ);
  ctx.lastCostS += costS;
  ctx.lastCostJ += costJ;
  return net;
}

/**
 * A price per second (or per joule) beyond which nothing has a positive net at the other price 0 — so at
 * any other price too; Infinity when something is free.
 */
export function maxPrice(ctx: BoundContext, wi: number, st: BoundState, joules: boolean): number {
  const { data, set } = ctx;
  let hi = 0;
  resetFamilies(ctx, st);
  const models = data.models[wi] ?? [];
  const n = ctx.openAgents === 0 ? 0 : models.length;
  for (let i = 0; i < n; i++) {
    const m = models[i] as ModelUnits;
    const g = ctx.gains[i] as Float64Array;
    const p = joules ? m.costJ : m.costS;
    for (let j = 1; j <= curveLength(ctx, m); j++) {
      if ((g[j] as number) <= 0) continue;
      if ((p[j] as number) <= 0) return Number.POSITIVE_INFINITY;
      hi = Math.max(hi, (g[j] as number) / (p[j] as number));
    }
  }
  const K = data.classes;
  const F = data.families;
  for (const cl of set.req.classes) {
    if (cl.agent || cl.maxTotal - (st.classCount[cl.index] as number) <= 0) continue;
    for (let f = 0; f < F; f++)
      hi = Math.max(hi, breakEvenPrice(data.nonAgent[(wi * K + cl.index) * F + f] as SeatOptions, joules));
  }
  return hi;
}
