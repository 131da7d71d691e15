/**
 * Static data per suffix of the candidate order, precomputed once per solve: what workers wi..n−1 can still
 * offer (capacities per role / class, the cheapest ways to add seats, per-model value and cost curves,
 * non-agent seat options). The branch-and-bound decides value groups — contiguous runs of workers — in
 * order, so "what is still open" is always such a suffix.
 */
import type { CandidateSet } from "./candidates.js";
import { NO_OPTIONS, type SeatOptions, withOption } from "./seat-options.js";

/**
 * What the suffix's workers of one model in one family can add (a model spread over two family labels
 * gives two groups: caps count per family, and treating the groups apart only loosens the bound).
 */
export interface ModelUnits {
  model: number;
  family: number;
  /** Seat units (each worker's latency-limited slots at its best agent value), sorted descending. */
  raw: Float64Array;
  /** G(n) = Σ_{j<n} raw[j]·ρ^j for n = 0..len: the most n seats can add when the model has no seat yet. */
  gain: Float64Array;
  /**
   * P(n), n = 0..len: a lower bound on the seconds (joules) of any n agent seats of the model on these
   * workers (seatCostFloor: the least cost of n seats, each worker at its fastest agent class).
   */
  costS: Float64Array;
  costJ: Float64Array;
}

export interface SuffixData {
  n: number;
  roles: number;
  classes: number;
  /** [wi * roles + r]: seats of role r the suffix from wi can hold (ignoring families and budgets). */
  roleCap: Float64Array;
  /** [wi * classes + k]: seats of class k the suffix can hold. */
  classCap: Float64Array;
  agentCap: Float64Array;
  slotCap: Float64Array;
  /** Prefix sums of the cheapest unit seconds / joules per suffix. */
  cheapS: Float64Array[];
  cheapJ: Float64Array[];
  models: ModelUnits[][];
  /**
   * Non-agent seats' costs, from the identity Σ_w T_w = Σ_w [σ·Σ(its seats' s) + (1 − σ)·max_w]: every seat
   * pays its share σ·s, and a worker's max term grows beyond what the agent curves already charge by at
   * least (1 − σ)·(s − A)⁺, A = the worker's longest agent seat (its excess). Two non-agent seats may share
   * a worker, so only the largest excess of a plan is certain: the bound charges one seat share + excess
   * ("full") and the others their share. [(wi * classes + k) * families + f]: the options (seat-options.ts)
   * of the suffix's workers of family f that can take non-agent class k — each worker's value with its own
   * costs, per family because a non-agent seat also takes one of its family's seats under the diversity cap.
   */
  nonAgent: SeatOptions[];
  families: number;
  maxAgentSeats: number;
}

function prefixSums(sortedAsc: readonly number[], limit: number): Float64Array {
  const n = Math.min(sortedAsc.length, limit);
  const out = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) out[i + 1] = (out[i] as number) + (sortedAsc[i] as number);
  return out;
}

/** Inserts x into an ascending array in place, keeping at most `limit` smallest entries. */
function insertSorted(arr: number[], x: number, limit: number): void {
  if (arr.length >= limit && x >= (arr[arr.length - 1] as number)) return;
  if (arr.length >= limit) arr.pop();
  let i = arr.length;
  arr.push(x);
  while (i > 0 && (arr[i - 1] as number) > x) {
    arr[i] = arr[i - 1] as number;
    i--;
  }
  arr[i] = x;
}

/** One worker's agent seats for the cost curves: the first costs `first`, each further one `extra`. */
export interface SeatUnit {
  first: number;
  extra: number;
  /** Most agent seats the worker can hold (slots, latency). */
  cap: number;
}

/**
 * P(n) for n = 0..len: the least cost of any n seats on these workers (k seats on one worker cost
 * first + (k − 1)·extra), by a small knapsack DP over the workers; Infinity when n seats do not fit.
 * Exact, where a "cheapest first seat plus the n − 1 cheapest other units" floor would let a cheap extra
 * seat ride on a worker whose first seat is never paid.
 */
export function seatCostFloor(units: readonly SeatUnit[], len: number): Float64Array {
  const out = new Float64Array(len + 1).fill(Number.POSITIVE_INFINITY);
  out[0] = 0;
  let reach = 0;
  for (const u of units) {
    const k = Math.min(u.cap, len);
    if (k <= 0) continue;
    reach = Math.min(len, reach + k);
    // Downwards, so each worker is used once (out[j − x] still holds the value before this worker).
    for (let j = reach; j >= 1; j--) {
      let bestJ = out[j] as number;
      for (let x = 1; x <= Math.min(k, j); x++) {
        const prev = out[j - x] as number;
        if (prev === Number.POSITIVE_INFINITY) continue;
        const c = prev + u.first + (x - 1) * u.extra;
        if (c < bestJ) bestJ = c;
      }
      out[j] = bestJ;
    }
  }
  return out;
}

function modelUnits(
  set: CandidateSet,
  group: readonly number[],
  from: number,
  maxAgentSeats: number,
): ModelUnits | undefined {
  const { candidates, req } = set;
  const vals: number[] = [];
  const unitsS: SeatUnit[] = [];
  const unitsJ: SeatUnit[] = [];
  const first = candidates[group[0] ?? -1];
  if (!first) return undefined;
  const model = first.modelIdx;
  const family = first.familyIdx;
  for (const w of group) {
    const c = candidates[w];
    if (!c || w < from) continue;
    let v = 0;
    let s = Number.POSITIVE_INFINITY;
    let k = 0;
    for (const cl of c.classes) {
      if (!cl.agent) continue;
      v = Math.max(v, cl.value);
      s = Math.min(s, cl.seconds);
      k = Math.max(k, Math.min(c.slots, cl.latencyCap));
    }
    if (k === 0) continue;
    unitsS.push({ first: s, extra: c.sigma * s, cap: k });
    unitsJ.push({ first: s * c.watts, extra: c.sigma * s * c.watts, cap: k });
    for (let j = 0; j < k; j++) vals.push(v);
  }
  if (vals.length === 0) return undefined;
  vals.sort((a, b) => b - a);
  const len = Math.min(vals.length, maxAgentSeats);
  const raw = Float64Array.from(vals.slice(0, len));
  const gain = new Float64Array(len + 1);
  let w = 1;
  for (let j = 0; j < len; j++) {
    gain[j + 1] = (gain[j] as number) + (raw[j] as number) * w;
    w *= req.repeatDecay;
  }
  return {
    model,
    family,
    raw,
    gain,
    costS: seatCostFloor(unitsS, len),
    costJ: seatCostFloor(unitsJ, len),
  };
}

export function buildSuffixData(set: CandidateSet): SuffixData {
  const { candidates, req } = set;
  const n = candidates.length;
  const R = req.roles.length;
  const K = req.classes.length;
  const maxSeats = req.classes.reduce((s, k) => s + k.maxTotal, 0);
  const maxAgentSeats = req.classes.reduce((s, k) => s + (k.agent ? k.maxTotal : 0), 0);
  const roleCap = new Float64Array((n + 1) * R);
  const classCap = new Float64Array((n + 1) * K);
  const agentCap = new Float64Array(n + 1);
  const slotCap = new Float64Array(n + 1);
  const F = set.families.length;
  const nonAgent = new Array<SeatOptions>((n + 1) * K * F).fill(NO_OPTIONS);
  // Candidates of each (model, family) group, so that a group's curve scans only its own workers.
  const members = new Map<number, number[]>();
  const groupKey = (model: number, family: number) => model * 65536 + family;
  candidates.forEach((c, i) => {
    const key = groupKey(c.modelIdx, c.familyIdx);
    const list = members.get(key);
    if (list) list.push(i);
    else members.set(key, [i]);
  });
  const cheapS: Float64Array[] = new Array(n + 1);
  const cheapJ: Float64Array[] = new Array(n + 1);
  const models: ModelUnits[][] = new Array(n + 1);
  models[n] = [];
  cheapS[n] = new Float64Array(1);
  cheapJ[n] = new Float64Array(1);
  const unitS: number[] = [];
  const unitJ: number[] = [];

  for (let wi = n - 1; wi >= 0; wi--) {
    const c = candidates[wi];
    if (!c) continue;
    roleCap.copyWithin(wi * R, (wi + 1) * R, (wi + 2) * R);
    classCap.copyWithin(wi * K, (wi + 1) * K, (wi + 2) * K);
    nonAgent.copyWithin(wi * K * F, (wi + 1) * K * F, (wi + 2) * K * F);
    let agentK = 0;
    let anyK = 0;
    let minS = Number.POSITIVE_INFINITY;
    let longestAgent = 0;
    for (const cl of c.classes) if (cl.agent) longestAgent = Math.max(longestAgent, cl.seconds);
    for (const cl of c.classes) {
      const k = Math.min(c.slots, cl.latencyCap);
      for (const r of cl.roles) roleCap[wi * R + r] = (roleCap[wi * R + r] as number) + k;
      classCap[wi * K + cl.cls] = (classCap[wi * K + cl.cls] as number) + k;
      anyK = Math.max(anyK, k);
      if (cl.agent) agentK = Math.max(agentK, k);
      else {
        const at = (wi * K + cl.cls) * F + c.familyIdx;
        const share = c.sigma * cl.seconds;
        const full = share + (1 - c.sigma) * Math.max(0, cl.seconds - longestAgent);
        nonAgent[at] = withOption(nonAgent[at] as SeatOptions, {
          v: cl.value,
          shareS: share,
          shareJ: share * c.watts,
          fullS: full,
          fullJ: full * c.watts,
        });
      }
      minS = Math.min(minS, cl.seconds);
    }
    agentCap[wi] = (agentCap[wi + 1] as number) + agentK;
    slotCap[wi] = (slotCap[wi + 1] as number) + anyK;
    // Only the cheapest `maxSeats` units can ever matter (no plan holds more seats).
    for (let j = 0; j < Math.min(anyK, maxSeats); j++) {
      const s = j === 0 ? minS : c.sigma * minS;
      insertSorted(unitS, s, maxSeats);
      insertSorted(unitJ, s * c.watts, maxSeats);
    }
    cheapS[wi] = prefixSums(unitS, maxSeats);
    cheapJ[wi] = prefixSums(unitJ, maxSeats);
    const mine = modelUnits(set, members.get(groupKey(c.modelIdx, c.familyIdx)) ?? [], wi, maxAgentSeats);
    const rest = (models[wi + 1] ?? []).filter((m) => m.model !== c.modelIdx || m.family !== c.familyIdx);
    models[wi] = mine ? [...rest, mine] : rest;
  }
  return {
    n,
    roles: R,
    classes: K,
    roleCap,
    classCap,
    agentCap,
    slotCap,
    cheapS,
    cheapJ,
    models,
    nonAgent,
    families: F,
    maxAgentSeats,
  };
}
