/**
 * `plan(workers, request)`: the broker's one entry point. Pure and deterministic — the same workers (in any
 * order) and request give the same plan. Callers re-plan whenever the registry reports a transition that
 * `affectsPlanning`, and between rounds; `diffPlans` says what changed.
 */
import { buildCandidates } from "./candidates.js";
import { evaluateSeats } from "./evaluate.js";
import { diagnoseInfeasible, exclusionReason, seatReason } from "./explain.js";
import { resolveRequest } from "./request.js";
import { solveExact } from "./solve.js";
import type { BrokerWorker, Plan, PlanExclusion, PlanRequest, PlanSeat } from "./types.js";

/** Throws BrokerRequestError (with every problem) when the request or the workers' numbers are invalid. */
export function plan(workers: readonly BrokerWorker[], request: PlanRequest): Plan {
  const req = resolveRequest(workers, request);
  const set = buildCandidates(workers, req);
  const result = solveExact(set);
  const search = { nodes: result.nodes, exact: result.exact, upperBound: result.upperBound };

  if (result.seats === null) {
    const problems = diagnoseInfeasible(set, !result.exact, req.maxNodes);
    const exclusions: PlanExclusion[] = [
      ...set.exclusions,
      ...set.candidates.map((c) => ({
        workerId: c.worker.workerId,
        modelName: c.worker.modelName,
        reason: `not seated: no feasible plan (${problems[0]})`,
      })),
    ];
    return { status: "infeasible", reason: problems[0] as string, problems, seats: [], exclusions, search };
  }

  const chosen = result.seats;
  const ev = evaluateSeats(set, chosen);
  // Seats listed by role order, then value, then the canonical worker order.
  const order = chosen
    .map((s, i) => ({ s, i }))
    .sort(
      (a, b) =>
        a.s.role - b.s.role ||
        (ev.shares[b.i]?.value ?? 0) - (ev.shares[a.i]?.value ?? 0) ||
        a.s.cand - b.s.cand,
    );
  const perRole = new Map<number, number>();
  const seats: PlanSeat[] = order.map(({ s, i }) => {
    const c = set.candidates[s.cand];
    const share = ev.shares[i];
    if (!c || !share) throw new Error("broker internal: seat without candidate");
    const seatIndex = perRole.get(s.role) ?? 0;
    perRole.set(s.role, seatIndex + 1);
    return {
      role: req.roles[s.role]?.name ?? "?",
      seatIndex,
      workerId: c.worker.workerId,
      modelName: c.worker.modelName,
      family: c.worker.family,
      value: share.value,
      cost: share.cost,
      costJoules: c.wattsKnown || req.assumedPowerWatts !== undefined ? share.joules : null,
      expectedSeconds: share.workerSeconds,
      reason: seatReason(set, s, share),
    };
  });

  const seated = new Set(chosen.map((s) => s.cand));
  const exclusions: PlanExclusion[] = [...set.exclusions];
  for (const c of set.candidates) {
    if (seated.has(c.index)) continue;
    exclusions.push({
      workerId: c.worker.workerId,
      modelName: c.worker.modelName,
      reason: exclusionReason(set, c.index, chosen, ev),
    });
  }
  exclusions.sort((a, b) => (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0));

  const seatsByRole: Record<string, number> = {};
  for (const r of req.roles) seatsByRole[r.name] = perRole.get(r.index) ?? 0;
  const seatsByFamily: Record<string, number> = {};
  for (const s of seats) seatsByFamily[s.family] = (seatsByFamily[s.family] ?? 0) + 1;
  const powerKnown = [...seated].every(
    (i) => set.candidates[i]?.wattsKnown || req.assumedPowerWatts !== undefined,
  );
  return {
    status: "ok",
    seats,
    exclusions,
    totals: {
      value: ev.value,
      computeSeconds: ev.computeSeconds,
      energyJoules: powerKnown ? ev.energyJoules : null,
      roundSeconds: ev.roundSeconds,
      seats: seats.length,
      agents: ev.agents,
      seatsByRole,
      seatsByFamily,
    },
    search,
  };
}
