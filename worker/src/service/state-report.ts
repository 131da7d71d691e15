/**
 * When a state change earns its own telemetry report. Telemetry goes out "at once on any state change"
 * (BRIEF §3), but one event-loop turn can flip a worker busy → ready → busy several times (a request ends
 * and the next one arrives in the same socket read; an instant backend answers before the turn is over).
 * Reporting each flip costs a protobuf encode and a socket write per flip and tells the cluster nothing the
 * last report of the turn does not. So the service notes every state it sees here, schedules one report for
 * the end of the turn when the gate says so, and sends it with the state current by then. Pure.
 */
import type { WorkerState } from "../../../proto/gen/conclave/v1/telemetry_pb.js";

export interface StateReportGate {
  /** The state the last report carried (undefined before the first report). */
  readonly reported: WorkerState | undefined;
  /** A state other than `reported` was seen since that report: one coalesced report is owed. */
  readonly due: boolean;
}

export const initialStateReportGate: StateReportGate = { reported: undefined, due: false };

/**
 * Notes one observed state. `schedule` is true exactly once per owed report: when the first state that
 * differs from the reported one is seen. Later flips inside the same turn only ride along.
 */
export function observeState(
  gate: StateReportGate,
  observed: WorkerState,
): { gate: StateReportGate; schedule: boolean } {
  if (gate.due || observed === gate.reported) return { gate, schedule: false };
  return { gate: { reported: gate.reported, due: true }, schedule: true };
}

/**
 * The scheduled end-of-turn check: report when one is still owed. A periodic or discovery report sent in
 * between already carried the current state and settled the debt, so nothing goes out twice.
 */
export function stateReportDue(gate: StateReportGate): boolean {
  return gate.due;
}

/** Any report that went out (periodic, discovery, drain or coalesced) settles what was owed. */
export function reportSent(state: WorkerState): StateReportGate {
  return { reported: state, due: false };
}
