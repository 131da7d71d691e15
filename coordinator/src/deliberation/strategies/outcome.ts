/** What a strategy hands back to the job runner when it has finished its shape. */
import type { StopReason } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import type { JobRuntime } from "../runtime/job-runtime.js";

export interface StrategyOutcome {
  answer: string;
  winnerSeatId: string;
  stopReason: StopReason;
  stopDetail: string;
  rounds: number;
}

export type StrategyRunner = (rt: JobRuntime) => Promise<StrategyOutcome>;
