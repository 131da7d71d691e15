/**
 * The cheapest ways to spread a value group's seats over its members (groups.ts).
 *
 * For a seat vector v (seats per group class), `front(v)` lists the Pareto-optimal (compute seconds,
 * joules) of the assignments of exactly v to the members — each member within its slots and the latency
 * budget, paying its round time max + σ·(sum − max) (value.ts) — sorted by seconds ascending. Joules count
 * only when an energy budget is set; otherwise the front is the single cheapest assignment. Any other
 * assignment of v is worth the same and is no cheaper in seconds and joules than some point of the front,
 * so the search may pick among front points only and stay exact.
 *
 * Computed lazily, by dynamic programming over the members in canonical order with memo on (member,
 * seats still to place): identical members cost no permutations. Ties (equal seconds and joules, up to
 * rounding) keep the assignment met first, and members' counts are enumerated from high to low, so among
 * equally cheap assignments the one placing the most seats on the earliest members (worker-id order among
 * identical workers) wins.
 */
import type { ValueGroup } from "./groups.js";
import { fits } from "./value.js";

export interface FrontPoint {
  seconds: number;
  joules: number;
  /** Seats per group class on the first member of the (sub)problem; null for the empty assignment. */
  take: Int32Array | null;
  /** The rest of the assignment, on the following members. */
  rest: FrontPoint | null;
}

const EMPTY: readonly FrontPoint[] = [{ seconds: 0, joules: 0, take: null, rest: null }];
const NONE: readonly FrontPoint[] = [];
const REL = 1e-9;

function near(a: number, b: number): boolean {
  return Math.abs(a - b) <= REL * Math.max(1, Math.abs(a), Math.abs(b));
}

/** Member-level parameters the spreading reads (the rest of a candidate does not matter here). */
export interface MemberCost {
  slots: number;
  sigma: number;
  watts: number;
}

export interface GroupFrontsOptions {
  latencyBudgetSeconds: number;
  /** Keep joules as a second objective (an energy budget is set). */
  useJoules: boolean;
  /**
   * Called once per member option tried (the unit of work); returning false stops the computation with
   * SpreadBudgetExceeded. Lets the solver's node limit bound this work too: a group of many multi-slot
   * workers asked for many seats of several classes has a large table.
   */
  spend?: () => boolean;
}

/** Thrown when `spend` refuses more work (the solver then stops, as at its node limit). */
export class SpreadBudgetExceeded extends Error {
  override readonly name = "SpreadBudgetExceeded";
}

/**
 * Pareto filter with deterministic ties: `points` in enumeration order; the result is sorted by seconds
 * ascending, and of points equal up to rounding the first enumerated is kept.
 */
export function paretoFront(points: readonly FrontPoint[], useJoules: boolean): FrontPoint[] {
  const order = points.map((p, i) => ({ p, i }));
  order.sort((a, b) => a.p.seconds - b.p.seconds || (useJoules ? a.p.joules - b.p.joules : 0) || a.i - b.i);
  const kept: { p: FrontPoint; i: number }[] = [];
  for (const x of order) {
    let drop = false;
    for (let k = 0; k < kept.length; k++) {
      const q = kept[k] as { p: FrontPoint; i: number };
      const same = near(q.p.seconds, x.p.seconds) && (!useJoules || near(q.p.joules, x.p.joules));
      if (same) {
        // Equal up to rounding: the one met first stands for both.
        if (x.i < q.i) kept[k] = x;
        drop = true;
        break;
      }
      if (q.p.seconds <= x.p.seconds && (!useJoules || q.p.joules <= x.p.joules)) {
        drop = true;
        break;
      }
    }
    if (!drop) kept.push(x);
  }
  return kept.sort((a, b) => a.p.seconds - b.p.seconds || a.i - b.i).map((x) => x.p);
}

/** Round time of a member holding `x` seats per class (seconds per class in `s`). */
function roundTime(x: Int32Array, s: Float64Array, sigma: number): number {
  let max = 0;
  let sum = 0;
  for (let k = 0; k < x.length; k++) {
    const n = x[k] as number;
    if (n === 0) continue;
    const sk = s[k] as number;
    sum += n * sk;
    if (sk > max) max = sk;
  }
  return max + sigma * (sum - max);
}

export class GroupFronts {
  /** Keyed by (member, seats): a number when the seat vectors fit one (mixed radix), else a string. */
  private readonly memo = new Map<number | string, readonly FrontPoint[]>();
  /** Radix weights of the seat vector's entries (entry k ≤ classCap[k]); null when too large. */
  private readonly weights: Float64Array | null;
  private readonly span: number;
  private readonly C: number;
  private readonly M: number;
  /** [i][k]: Σ over members i.. of their caps of class k; [i][C]: Σ of their slots. */
  private readonly suffixCap: Int32Array[];

  constructor(
    private readonly group: ValueGroup,
    private readonly members: readonly MemberCost[],
    private readonly o: GroupFrontsOptions,
  ) {
    this.C = group.classes.length;
    this.M = members.length;
    let span = 1;
    const weights = new Float64Array(this.C);
    for (let k = 0; k < this.C; k++) {
      weights[k] = span;
      span *= (group.classCap[k] as number) + 1;
    }
    const numeric = span * (this.M + 1) < Number.MAX_SAFE_INTEGER;
    this.weights = numeric ? weights : null;
    this.span = span;
    this.suffixCap = new Array(this.M + 1);
    this.suffixCap[this.M] = new Int32Array(this.C + 1);
    for (let i = this.M - 1; i >= 0; i--) {
      const row = Int32Array.from(this.suffixCap[i + 1] as Int32Array);
      const caps = group.caps[i] as Int32Array;
      for (let k = 0; k < this.C; k++) row[k] = (row[k] as number) + (caps[k] as number);
      row[this.C] = (row[this.C] as number) + (members[i] as MemberCost).slots;
      this.suffixCap[i] = row;
    }
  }

  /** Pareto front of the assignments of exactly `v` seats per class; empty when none is feasible. */
  front(v: ArrayLike<number>): readonly FrontPoint[] {
    return this.at(0, Int32Array.from(v));
  }

  private at(i: number, v: Int32Array): readonly FrontPoint[] {
    let total = 0;
    for (let k = 0; k < this.C; k++) total += v[k] as number;
    if (total === 0) return EMPTY;
    const cap = this.suffixCap[i] as Int32Array;
    if (total > (cap[this.C] as number)) return NONE;
    for (let k = 0; k < this.C; k++) if ((v[k] as number) > (cap[k] as number)) return NONE;
    let key: number | string;
    if (this.weights) {
      key = i * this.span;
      for (let k = 0; k < this.C; k++) key += (v[k] as number) * (this.weights[k] as number);
    } else key = `${i}:${v.join(",")}`;
    const hit = this.memo.get(key);
    if (hit) return hit;
    const m = this.members[i] as MemberCost;
    const caps = this.group.caps[i] as Int32Array;
    const secs = this.group.seconds[i] as Float64Array;
    const x = new Int32Array(this.C);
    const out: FrontPoint[] = [];
    // Seconds alone: keep the running best (the first of equal ones) instead of a list to filter.
    const single = !this.o.useJoules;
    let best: FrontPoint | null = null;
    const spend = this.o.spend;
    const visit = (k: number, left: number): void => {
      if (k === this.C) {
        if (spend && !spend()) throw new SpreadBudgetExceeded("spreading table over budget");
        let n = 0;
        for (let q = 0; q < this.C; q++) n += x[q] as number;
        const t = n === 0 ? 0 : roundTime(x, secs, m.sigma);
        if (n > 0 && !fits(t, this.o.latencyBudgetSeconds)) return;
        const sub = this.at(
          i + 1,
          Int32Array.from(v, (vk, q) => vk - (x[q] as number)),
        );
        if (sub.length === 0) return;
        const take = n === 0 ? null : Int32Array.from(x);
        for (const q of sub) {
          const p = { seconds: t + q.seconds, joules: t * m.watts + q.joules, take, rest: q };
          if (!single) out.push(p);
          else if (!best || (p.seconds < best.seconds && !near(p.seconds, best.seconds))) best = p;
        }
        return;
      }
      const hi = Math.min(v[k] as number, caps[k] as number, left);
      for (let c = hi; c >= 0; c--) {
        x[k] = c;
        visit(k + 1, left - c);
      }
      x[k] = 0;
    };
    visit(0, m.slots);
    const front = single ? (best ? [best] : NONE) : out.length === 0 ? NONE : paretoFront(out, true);
    this.memo.set(key, front);
    return front;
  }
}

/** Seats per member (rows) per group class of a front point. */
export function spread(p: FrontPoint, members: number, classes: number): Int32Array[] {
  const rows = Array.from({ length: members }, () => new Int32Array(classes));
  // Walk the chain: each link is one member, in order, starting at member 0.
  let cur: FrontPoint | null = p;
  for (let i = 0; i < members && cur; i++) {
    if (cur.take) (rows[i] as Int32Array).set(cur.take);
    cur = cur.rest;
  }
  return rows;
}
