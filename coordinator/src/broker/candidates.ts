/**
 * Filters (with reasons) and the candidate table the solver works on: for each usable worker, the roles it
 * may take with their seat value and seconds, in a deterministic canonical order.
 *
 * Canonical order of workers (it is also the last tie-break, see solve.ts): when a compute or energy budget
 * binds (plan.ts decides), best value per cost first (cost = seconds, or joules when only an energy budget
 * is set); otherwise best value first; then higher value, then lower seconds, then worker id ascending.
 * Within a worker, role classes by value desc, seconds asc, then class order.
 */
import type { Domain } from "../profiles/types.js";
import type { ResolvedRequest, ResolvedRole } from "./request.js";
import type { BrokerWorker, PlanExclusion } from "./types.js";
import { capabilityMatch, fits, seatSeconds, seatsWithinLatency } from "./value.js";

export interface CandidatePair {
  role: number;
  agent: boolean;
  /** Base value (before repeat decay). */
  value: number;
  /** Single-seat seconds per round. */
  seconds: number;
  /** Seats of this role alone that fit the latency budget on this worker. */
  latencyCap: number;
  match: number;
}

/** A worker's seats of one role class: same value and seconds for every role of the class it may take. */
export interface CandidateClass {
  cls: number;
  agent: boolean;
  value: number;
  seconds: number;
  latencyCap: number;
  /** Roles of this class the worker may take (ascending). */
  roles: readonly number[];
}

export interface Candidate {
  /** Position in canonical order. */
  index: number;
  worker: BrokerWorker;
  modelIdx: number;
  familyIdx: number;
  slots: number;
  sigma: number;
  /** Watts used for the energy budget (known or assumed); 0 when there is no energy budget and none known. */
  watts: number;
  wattsKnown: boolean;
  quality: number;
  pairs: CandidatePair[];
  /** pairByRole[r] = the pair of role r, if the worker may take it. */
  pairByRole: (CandidatePair | undefined)[];
  /** `pairs` grouped by role class; sorted by value desc, seconds asc, class index. */
  classes: CandidateClass[];
  /** Why some roles are not open to this worker, one line per role. */
  roleNotes: string[];
  /** Index of the previous identical candidate in canonical order (symmetry breaking), or -1. */
  twinOf: number;
}

export interface CandidateSet {
  req: ResolvedRequest;
  candidates: Candidate[];
  models: string[];
  families: string[];
  /** Workers filtered out before the search. */
  exclusions: PlanExclusion[];
}

export function fmtSeconds(s: number): string {
  return s >= 100 ? `${s.toFixed(0)} s` : s >= 10 ? `${s.toFixed(1)} s` : `${s.toFixed(2)} s`;
}

function workerFilter(w: BrokerWorker, req: ResolvedRequest): string | undefined {
  if (w.unavailableReason !== undefined) return `excluded: ${w.unavailableReason}`;
  if (w.slots <= 0) return "excluded: no free slots";
  if (
    Number.isFinite(req.energyBudgetJoules) &&
    w.powerWatts === undefined &&
    req.assumedPowerWatts === undefined
  )
    return "excluded: power draw unknown and an energy budget is set (set assumedPowerWatts to include it)";
  return undefined;
}

function pairFor(
  w: BrokerWorker,
  role: ResolvedRole,
  req: ResolvedRequest,
  quality: number,
  sigma: number,
): CandidatePair | string {
  const m = capabilityMatch(w, role, req);
  if (m.match === 0) return `role ${role.name} needs ${m.missing.join(" and ")}`;
  const seconds = seatSeconds(w, role.tokens);
  if (!Number.isFinite(seconds)) return `role ${role.name}: no measured throughput yet`;
  if (!fits(seconds, req.latencyBudgetSeconds))
    return `role ${role.name}: expected ${fmtSeconds(seconds)} per round > latency budget ${fmtSeconds(req.latencyBudgetSeconds)}`;
  return {
    role: role.index,
    agent: role.agent,
    value: m.match * quality * w.reliability * role.weight,
    seconds,
    latencyCap: seatsWithinLatency(seconds, sigma, req.latencyBudgetSeconds, w.slots),
    match: m.match,
  };
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Same solver-relevant data: such workers are interchangeable except for their ids. */
function twinKey(c: Omit<Candidate, "index" | "twinOf">): string {
  return JSON.stringify([
    c.modelIdx,
    c.familyIdx,
    c.slots,
    c.sigma,
    c.watts,
    c.classes.map((k) => [k.cls, k.value, k.seconds, k.latencyCap, k.roles]),
  ]);
}

/** How candidates are ordered: best value first, or best value per cost first (when a budget binds). */
export type CandidateOrder = "value" | "density";

export function buildCandidates(
  workers: readonly BrokerWorker[],
  req: ResolvedRequest,
  order: CandidateOrder = "value",
): CandidateSet {
  const exclusions: PlanExclusion[] = [];
  const models: string[] = [];
  const families: string[] = [];
  const indexOf = (list: string[], key: string): number => {
    const i = list.indexOf(key);
    if (i >= 0) return i;
    list.push(key);
    return list.length - 1;
  };
  const energyCost = !Number.isFinite(req.computeBudgetSeconds) && Number.isFinite(req.energyBudgetJoules);
  const draft: (Omit<Candidate, "index" | "twinOf"> & { orderCost: number; best: CandidatePair })[] = [];
  for (const w of [...workers].sort((a, b) => compareIds(a.workerId, b.workerId))) {
    const filtered = workerFilter(w, req);
    if (filtered) {
      exclusions.push({ workerId: w.workerId, modelName: w.modelName, reason: filtered });
      continue;
    }
    const sigma = w.concurrencySlowdown ?? req.concurrencySlowdown;
    const quality = w.quality[req.domain as Domain];
    const pairs: CandidatePair[] = [];
    const roleNotes: string[] = [];
    for (const role of req.roles) {
      const p = pairFor(w, role, req, quality, sigma);
      if (typeof p === "string") roleNotes.push(p);
      else pairs.push(p);
    }
    const best = pairs.sort((a, b) => b.value - a.value || a.seconds - b.seconds || a.role - b.role)[0];
    if (!best) {
      exclusions.push({
        workerId: w.workerId,
        modelName: w.modelName,
        reason: `excluded: ${roleNotes.join("; ")}`,
      });
      continue;
    }
    const classes: CandidateClass[] = [];
    for (const p of [...pairs].sort((a, b) => a.role - b.role)) {
      const cls = req.roles[p.role]?.cls ?? 0;
      const k = classes.find((x) => x.cls === cls);
      if (k) (k.roles as number[]).push(p.role);
      else
        classes.push({
          cls,
          agent: p.agent,
          value: p.value,
          seconds: p.seconds,
          latencyCap: p.latencyCap,
          roles: [p.role],
        });
    }
    classes.sort((a, b) => b.value - a.value || a.seconds - b.seconds || a.cls - b.cls);
    const watts = w.powerWatts ?? req.assumedPowerWatts ?? 0;
    const minSeconds = Math.min(...pairs.map((p) => p.seconds));
    draft.push({
      worker: w,
      modelIdx: indexOf(models, w.modelKey),
      familyIdx: indexOf(families, w.family),
      slots: w.slots,
      sigma,
      watts,
      wattsKnown: w.powerWatts !== undefined,
      quality,
      pairs,
      pairByRole: req.roles.map((r) => pairs.find((p) => p.role === r.index)),
      classes,
      roleNotes,
      orderCost: energyCost ? minSeconds * watts : minSeconds,
      best,
    });
  }
  // When a budget binds, value per cost leads (knapsack order); otherwise cost only breaks ties, so value leads.
  const budgeted = order === "density";
  const density = (d: (typeof draft)[number]) =>
    budgeted ? d.best.value / Math.max(d.orderCost, 1e-12) : d.best.value;
  draft.sort(
    (a, b) =>
      density(b) - density(a) ||
      b.best.value - a.best.value ||
      a.orderCost - b.orderCost ||
      compareIds(a.worker.workerId, b.worker.workerId),
  );
  const lastByKey = new Map<string, number>();
  const candidates: Candidate[] = draft.map(({ orderCost: _c, best: _b, ...c }, index) => {
    const key = twinKey(c);
    const twinOf = lastByKey.get(key) ?? -1;
    lastByKey.set(key, index);
    return { ...c, index, twinOf };
  });
  return { req, candidates, models, families, exclusions };
}
