/**
 * Non-agent seat options of a suffix (suffix-data.ts), one list per (class, family): each worker's seat
 * value with its own costs, so the bound (relaxation.ts) never pairs the best value with another worker's
 * cost. Options no better in value and no cheaper in every cost than another are dropped, so the lists stay
 * short. Costs (suffix-data.ts): "share" = σ·s, what every non-agent seat pays; "full" = share + the
 * worker's excess (1 − σ)·(s − A)⁺, what the plan's largest-excess seat pays.
 */

export interface SeatOptions {
  v: Float64Array;
  shareS: Float64Array;
  shareJ: Float64Array;
  fullS: Float64Array;
  fullJ: Float64Array;
}

export interface SeatOption {
  v: number;
  shareS: number;
  shareJ: number;
  fullS: number;
  fullJ: number;
}

export const NO_OPTIONS: SeatOptions = {
  v: new Float64Array(0),
  shareS: new Float64Array(0),
  shareJ: new Float64Array(0),
  fullS: new Float64Array(0),
  fullJ: new Float64Array(0),
};

function at(o: SeatOptions, i: number): SeatOption {
  return {
    v: o.v[i] as number,
    shareS: o.shareS[i] as number,
    shareJ: o.shareJ[i] as number,
    fullS: o.fullS[i] as number,
    fullJ: o.fullJ[i] as number,
  };
}

function dominates(a: SeatOption, b: SeatOption): boolean {
  return (
    a.v >= b.v && a.shareS <= b.shareS && a.shareJ <= b.shareJ && a.fullS <= b.fullS && a.fullJ <= b.fullJ
  );
}

/** The options of `o` and one more, without dominated ones (a new option equal to an old one is dropped). */
export function withOption(o: SeatOptions, x: SeatOption): SeatOptions {
  const kept: SeatOption[] = [];
  for (let i = 0; i < o.v.length; i++) {
    const y = at(o, i);
    if (dominates(y, x)) return o;
    if (!dominates(x, y)) kept.push(y);
  }
  kept.push(x);
  return {
    v: Float64Array.from(kept, (k) => k.v),
    shareS: Float64Array.from(kept, (k) => k.shareS),
    shareJ: Float64Array.from(kept, (k) => k.shareJ),
    fullS: Float64Array.from(kept, (k) => k.fullS),
    fullJ: Float64Array.from(kept, (k) => k.fullJ),
  };
}

/** The best v − λS·cS − λJ·cJ (share or full costs) into `out`; false when there is no option. */
export function bestOption(
  o: SeatOptions,
  lamS: number,
  lamJ: number,
  full: boolean,
  out: { net: number; costS: number; costJ: number },
): boolean {
  const cs = full ? o.fullS : o.shareS;
  const cj = full ? o.fullJ : o.shareJ;
  let best = -1;
  let bestNet = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < o.v.length; i++) {
    const net = (o.v[i] as number) - lamS * (cs[i] as number) - lamJ * (cj[i] as number);
    if (net > bestNet) {
      bestNet = net;
      best = i;
    }
  }
  if (best < 0) return false;
  out.net = bestNet;
  out.costS = cs[best] as number;
  out.costJ = cj[best] as number;
  return true;
}

/** Largest v / share cost (seconds or joules) over options worth something; Infinity when one is free. */
export function breakEvenPrice(o: SeatOptions, joules: boolean): number {
  const c = joules ? o.shareJ : o.shareS;
  let hi = 0;
  for (let i = 0; i < o.v.length; i++) {
    const v = o.v[i] as number;
    const ci = c[i] as number;
    if (v <= 0) continue;
    if (ci <= 0) return Number.POSITIVE_INFINITY;
    hi = Math.max(hi, v / ci);
  }
  return hi;
}
