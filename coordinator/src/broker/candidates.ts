/**
 * Filters (with reasons) and the candidate table the solver works on: for each usable worker, the roles it
 * may take with their seat value and seconds, in a deterministic canonical order.
 *
 * Canonical order of workers (it is also the last tie-break, see solve.ts): best value first, then lower
 * cost (seconds, or joules when only an energy budget is set), then worker id ascending. Then the members
 * of each value group (groups.ts) are brought together, at the place of the group's first member, keeping
 * their order. Within a worker, role classes by value desc, seconds asc, then class order.
 */
import type { Domain } from "../profiles/types.js";
import { buildGroups, contiguousByKey, type ValueGroup, valueKey } from "./groups.js";
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
  /** Index of its value group (groups.ts) in `CandidateSet.groups`. */
  group: number;
}

export interface CandidateSet {
  req: ResolvedRequest;
  candidates: Candidate[];
  /** Value groups: contiguous runs of `candidates`. */
  groups: ValueGroup[];
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

/** A worker's seat value for every role before the throughput and latency filters (−1: may not take it). */
function potentialValues(w: BrokerWorker, req: ResolvedRequest, quality: number): number[] {
  return req.roles.map((role) => {
    const m = capabilityMatch(w, role, req);
    return m.match === 0 ? -1 : m.match * quality * w.reliability * role.weight;
  });
}

export function buildCandidates(workers: readonly BrokerWorker[], req: ResolvedRequest): CandidateSet {
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
  const draft: (Omit<Candidate, "index" | "group"> & {
    orderCost: number;
    best: CandidatePair;
    key: string;
  })[] = [];
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
    const modelIdx = indexOf(models, w.modelKey);
    const familyIdx = indexOf(families, w.family);
    draft.push({
      worker: w,
      modelIdx,
      familyIdx,
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
      key: valueKey(modelIdx, familyIdx, potentialValues(w, req, quality)),
    });
  }
  // Value leads even when a budget binds: the bound prices the budgets, and deciding the most valuable
  // models first meets good plans early (ordering by value per cost explored several times more nodes on
  // the benchmark's budgeted pools).
  draft.sort(
    (a, b) =>
      b.best.value - a.best.value ||
      a.orderCost - b.orderCost ||
      compareIds(a.worker.workerId, b.worker.workerId),
  );
  const groupOf = new Map<string, number>();
  const candidates: Candidate[] = contiguousByKey(draft, (d) => d.key).map(
    ({ orderCost: _c, best: _b, key, ...c }, index) => {
      const group = groupOf.get(key) ?? groupOf.size;
      groupOf.set(key, group);
      return { ...c, index, group };
    },
  );
  return { req, candidates, groups: buildGroups(candidates), models, families, exclusions };
}
