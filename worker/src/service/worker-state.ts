/**
 * The state a worker reports, derived from its lifecycle phase and its slots. Pure: the service calls it
 * after every change and publishes telemetry at once when the result differs from the last report.
 */
import { WorkerState } from "../../../proto/gen/conclave/v1/telemetry_pb.js";
import type { SlotStats } from "../backends/types.js";

export type WorkerPhase = "starting" | "serving" | "draining" | "leaving";

export function reportedState(phase: WorkerPhase, slots: Pick<SlotStats, "active" | "total">): WorkerState {
  switch (phase) {
    case "starting":
      return WorkerState.STARTING;
    case "draining":
      return WorkerState.DRAINING;
    case "leaving":
      return WorkerState.LEAVING;
    case "serving":
      return slots.active >= slots.total ? WorkerState.BUSY : WorkerState.READY;
  }
}
