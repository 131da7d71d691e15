/**
 * The user-facing names of protobuf enums (CLI flags, JSON output, profiles), in one place so the CLI and
 * the coordinator agree: `self-moa-seq` ↔ STRATEGY_SELF_MOA_SEQ, `likelihood` ↔ EVALUATION_MODE_LIKELIHOOD.
 */

import { RegistryState } from "../gen/conclave/v1/coordinator_pb.js";
import { EvaluationMode, JobState, StopReason, Strategy } from "../gen/conclave/v1/deliberation_pb.js";
import { SeatRole } from "../gen/conclave/v1/plan_pb.js";
import { WorkerState } from "../gen/conclave/v1/telemetry_pb.js";

function table<E extends number>(entries: Array<[E, string]>) {
  const toName = new Map<number, string>(entries);
  const toValue = new Map<string, E>(entries.map(([v, n]) => [n, v]));
  return {
    names: entries.map(([, n]) => n),
    name: (v: E): string => toName.get(v) ?? "unspecified",
    parse: (n: string): E | undefined => toValue.get(n.trim().toLowerCase()),
  };
}

export const strategyNames = table<Strategy>([
  [Strategy.NSED, "nsed"],
  [Strategy.SINGLE, "single"],
  [Strategy.MAJORITY, "majority"],
  [Strategy.MOA, "moa"],
  [Strategy.SELF_MOA, "self-moa"],
  [Strategy.SELF_MOA_SEQ, "self-moa-seq"],
  [Strategy.DEBATE, "debate"],
  [Strategy.COUNCIL, "council"],
]);

export const evaluationModeNames = table<EvaluationMode>([
  [EvaluationMode.BATCH, "batch"],
  [EvaluationMode.PER_CANDIDATE, "per-candidate"],
  [EvaluationMode.LIKELIHOOD, "likelihood"],
]);

export const jobStateNames = table<JobState>([
  [JobState.QUEUED, "queued"],
  [JobState.RUNNING, "running"],
  [JobState.SUCCEEDED, "succeeded"],
  [JobState.FAILED, "failed"],
  [JobState.CANCELLED, "cancelled"],
]);

export const stopReasonNames = table<StopReason>([
  [StopReason.CONVERGED, "converged"],
  [StopReason.MAX_ROUNDS, "max_rounds"],
  [StopReason.DEADLINE, "deadline"],
  [StopReason.COMPUTE_BUDGET, "compute_budget"],
  [StopReason.QUORUM_LOST, "quorum_lost"],
  [StopReason.CANCELLED, "cancelled"],
  [StopReason.ERROR, "error"],
  [StopReason.COMPLETED, "completed"],
  [StopReason.INTERRUPTED, "interrupted"],
]);

export const registryStateNames = table<RegistryState>([
  [RegistryState.JOINED, "joined"],
  [RegistryState.READY, "ready"],
  [RegistryState.BUSY, "busy"],
  [RegistryState.SUSPECT, "suspect"],
  [RegistryState.DEAD, "dead"],
  [RegistryState.DRAINING, "draining"],
  [RegistryState.LEFT, "left"],
]);

export const workerStateNames = table<WorkerState>([
  [WorkerState.STARTING, "starting"],
  [WorkerState.READY, "ready"],
  [WorkerState.BUSY, "busy"],
  [WorkerState.DRAINING, "draining"],
  [WorkerState.LEAVING, "leaving"],
]);

export const seatRoleNames = table<SeatRole>([
  [SeatRole.AGENT, "agent"],
  [SeatRole.PROPOSER, "proposer"],
  [SeatRole.AGGREGATOR, "aggregator"],
  [SeatRole.CHAIRMAN, "chairman"],
  [SeatRole.SOLO, "solo"],
]);

/** Job states after which nothing changes any more. */
export function isFinishedJobState(state: JobState): boolean {
  return state === JobState.SUCCEEDED || state === JobState.FAILED || state === JobState.CANCELLED;
}
