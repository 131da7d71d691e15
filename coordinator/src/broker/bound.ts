/**
 * Bounds of the branch-and-bound over the suffix still open (suffix-data.ts).
 *
 * Upper bound on the value the suffix can still add — valid because plan value is monotone and
 * submodular in the seats (value.ts):
 * - Agent seats, per model m (and family) with chosen agent seats S and suffix units U (sorted descending):
 *   n more seats add at most G(n) = f(S ∪ top_n(U)) − f(S) (f = the decayed sum; any n units are dominated
 *   element-wise by the top n) and cost at least P(n), the least cost of n seats on the model's workers
 *   (suffix-data.ts). Coupling value and cost per model is what makes this tight: a worker's cheap extra
 *   seats are also its model's decayed ones.
 * - Budgets by Lagrangian relaxation: for prices λS, λJ ≥ 0, bound = λS·(compute left) + λJ·(energy left) +
 *   the relaxation's best net at those prices (relaxation.ts). Every pair of prices gives a valid bound;
 *   bisection on a price's subgradient (budget left − cost of the selection) looks for the least, for each
 *   budget alone (the other price 0), and stops refining once the bound already cuts.
 * Feasibility: open minimums (per role, per class, agents) against the suffix's capacity, and the cheapest
 * way to add the seats still needed against the budgets.
 */
import { type BoundContext, type BoundState, curveLength, innerNet, maxPrice } from "./relaxation.js";
import type { ModelUnits } from "./suffix-data.js";
import { fits } from "./value.js";

export { type BoundContext, type BoundState, boundContext } from "./relaxation.js";

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

/** Bisection steps per price. */
const STEPS = 14;

/**
 * Least bound found along one price (λS when `joules` is false, else λJ; the other is 0). The bound is
 * convex in the price and its subgradient is the budget left minus the selection's cost, so bisection
 * finds the least. It starts at the price that was best at the previous node (ctx.hint): neighbouring
 * nodes have close prices, and when that price already cuts no search is needed at all. It also stops as
 * soon as the tangents at the two ends of the bracket show that no price can bring the bound below `cut`
 * (the node will not be cut, so a tighter value would be wasted work). Whatever it returns is the bound at
 * some price, hence valid.
 */
function alongPrice(
  ctx: BoundContext,
  st: BoundState,
  wi: number,
  cap: number,
  joules: boolean,
  cut: number,
): number {
  // (Plain locals and no closures: this runs at every node.)
  let best = Number.POSITIVE_INFINITY;
  let price = 0;
  // The bracket: at lo the selection is over budget (slope gLo < 0), at hi within it (gHi ≥ 0).
  let lo = 0;
  let fLo = Number.NaN;
  let gLo = 0;
  let hi = Number.POSITIVE_INFINITY;
  let fHi = Number.NaN;
  let gHi = 0;
  const hint = joules ? ctx.hintJ : ctx.hintS;
  for (let it = -2; it < STEPS; it++) {
    let p: number;
    if (it === -2) {
      if (!(hint > 0)) continue;
      p = hint;
    } else if (it === -1) {
      if (!Number.isNaN(fLo)) continue;
      p = 0;
    } else {
      if (hi === Number.POSITIVE_INFINITY) {
        const top = maxPrice(ctx, wi, st, joules);
        if (!Number.isFinite(top)) break;
        // At `top` nothing has a positive net any more: the bound is top × cap, the slope cap.
        hi = top;
        fHi = top * cap;
        gHi = cap;
        if (fHi < best) {
          best = fHi;
          price = top;
        }
        if (best < cut) break;
      }
      // Lower bound on the least from the tangents at both ends: stop when it cannot cut.
      if (gHi - gLo > 0 && !Number.isNaN(fLo)) {
        const x = (fHi - fLo + gLo * lo - gHi * hi) / (gLo - gHi);
        if (fLo + gLo * (x - lo) >= cut) break;
      }
      p = (lo + hi) / 2;
    }
    const f = p * cap + innerNet(ctx, st, wi, joules ? 0 : p, joules ? p : 0);
    if (f < best) {
      best = f;
      price = p;
    }
    if (best < cut) break;
    const g = cap - (joules ? ctx.lastCostJ : ctx.lastCostS);
    if (g < 0) {
      lo = p;
      fLo = f;
      gLo = g;
    } else {
      hi = p;
      fHi = f;
      gHi = g;
      // Within budget at price 0: the least is there.
      if (p === 0) break;
    }
  }
  if (joules) ctx.hintJ = price;
  else ctx.hintS = price;
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
  const finS = Number.isFinite(req.computeBudgetSeconds);
  const finJ = Number.isFinite(req.energyBudgetJoules);
  if (!finS && !finJ) return innerNet(ctx, st, wi, 0, 0);
  const capS = Math.max(0, req.computeBudgetSeconds - st.usedS);
  const capJ = Math.max(0, req.energyBudgetJoules - st.usedJ);
  if (!finJ) return alongPrice(ctx, st, wi, capS, false, cut);
  if (!finS) return alongPrice(ctx, st, wi, capJ, true, cut);
  // Both budgets: the better of the two single-price bounds (alternating between the prices tightened the
  // root bound by under 1% on the benchmark pools, at twice the work per node).
  const bS = alongPrice(ctx, st, wi, capS, false, cut);
  if (bS < cut) return bS;
  return Math.min(bS, alongPrice(ctx, st, wi, capJ, true, cut));
}

/**
 * Whether the budgets can bind: the cost of the unbudgeted relaxation's selection at the root exceeds a
 * finite budget. Decides only whether a local search for a better start pays (solve.ts).
 */
export function budgetsBind(ctx: BoundContext, st: BoundState): boolean {
  const { req } = ctx.set;
  if (!Number.isFinite(req.computeBudgetSeconds) && !Number.isFinite(req.energyBudgetJoules)) return false;
  suffixValueBound(ctx, 0, st);
  innerNet(ctx, st, 0, 0, 0);
  return ctx.lastCostS > req.computeBudgetSeconds || ctx.lastCostJ > req.energyBudgetJoules;
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
