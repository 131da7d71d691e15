/**
 * Static data per suffix of the candidate order, precomputed once per solve: what workers wi..n−1 can still
 * offer (capacities per role / class, the cheapest ways to add seats, per-model value and cost curves).
 * The branch-and-bound decides workers in order, so "what is still open" is always such a suffix.
 */
import type { CandidateSet } from "./candidates.js";

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
   * P(n), n = 0..len: a lower bound on the seconds (joules) of any n seats of the model: the cheapest first
   * seat on one of its workers plus the n − 1 cheapest other units (any n seats include one first seat).
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
  /** [wi * classes + k]: best value of non-agent class k in the suffix (0 if none). */
  nonAgentMax: Float64Array;
  /**
   * Non-agent seats' cost floor, from the identity Σ_w T_w = σ·Σ(all seats' s) + (1 − σ)·Σ_w max_w:
   * [wi * classes + k]: least σ·s of a class-k seat (every seat pays it), and least (1 − σ)·(s − A)⁺ where
   * A is the worker's longest agent seat (what the worker's max term grows by beyond what the agent curves
   * already charge). Only the largest excess among the non-agent seats of a plan is certain (two non-agent
   * seats may share one worker), so the bound charges one excess.
   */
  nonAgentShareS: Float64Array;
  nonAgentShareJ: Float64Array;
  nonAgentExcessS: Float64Array;
  nonAgentExcessJ: Float64Array;
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

/** P(n) for n = 0..len from the first-seat costs of a model's workers and their extra-seat costs. */
export function seatCostFloor(
  firsts: readonly number[],
  extras: readonly number[],
  len: number,
): Float64Array {
  const out = new Float64Array(len + 1);
  if (len === 0 || firsts.length === 0) return out;
  let minAt = 0;
  firsts.forEach((f, i) => {
    if (f < (firsts[minAt] as number)) minAt = i;
  });
  const rest = [...firsts.filter((_, i) => i !== minAt), ...extras].sort((a, b) => a - b);
  out[1] = firsts[minAt] as number;
  for (let j = 2; j <= len; j++) out[j] = (out[j - 1] as number) + (rest[j - 2] ?? Number.POSITIVE_INFINITY);
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
  const firstS: number[] = [];
  const firstJ: number[] = [];
  const extraS: number[] = [];
  const extraJ: number[] = [];
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
    firstS.push(s);
    firstJ.push(s * c.watts);
    for (let j = 0; j < k; j++) vals.push(v);
    for (let j = 1; j < k; j++) {
      extraS.push(c.sigma * s);
      extraJ.push(c.sigma * s * c.watts);
    }
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
    costS: seatCostFloor(firstS, extraS, len),
    costJ: seatCostFloor(firstJ, extraJ, len),
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
  const nonAgentMax = new Float64Array((n + 1) * K);
  const nonAgentShareS = new Float64Array((n + 1) * K).fill(Number.POSITIVE_INFINITY);
  const nonAgentShareJ = new Float64Array((n + 1) * K).fill(Number.POSITIVE_INFINITY);
  const nonAgentExcessS = new Float64Array((n + 1) * K).fill(Number.POSITIVE_INFINITY);
  const nonAgentExcessJ = new Float64Array((n + 1) * K).fill(Number.POSITIVE_INFINITY);
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
    nonAgentMax.copyWithin(wi * K, (wi + 1) * K, (wi + 2) * K);
    for (const arr of [nonAgentShareS, nonAgentShareJ, nonAgentExcessS, nonAgentExcessJ])
      arr.copyWithin(wi * K, (wi + 1) * K, (wi + 2) * K);
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
        const at = wi * K + cl.cls;
        nonAgentMax[at] = Math.max(nonAgentMax[at] as number, cl.value);
        const share = c.sigma * cl.seconds;
        const excess = (1 - c.sigma) * Math.max(0, cl.seconds - longestAgent);
        nonAgentShareS[at] = Math.min(nonAgentShareS[at] as number, share);
        nonAgentShareJ[at] = Math.min(nonAgentShareJ[at] as number, share * c.watts);
        nonAgentExcessS[at] = Math.min(nonAgentExcessS[at] as number, excess);
        nonAgentExcessJ[at] = Math.min(nonAgentExcessJ[at] as number, excess * c.watts);
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
    nonAgentMax,
    nonAgentShareS,
    nonAgentShareJ,
    nonAgentExcessS,
    nonAgentExcessJ,
    maxAgentSeats,
  };
}
