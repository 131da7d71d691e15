/** Running a job against a scripted world, with deterministic clock and randomness. */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type RunJobOptions, runJob, seededRandom } from "../../../../coordinator/src/deliberation/index.js";
import {
  type JobEvent,
  type JobResult,
  JobSpecSchema,
  type Strategy,
  StrategyParamsSchema,
} from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { BudgetsSchema } from "../../../../proto/gen/conclave/v1/plan_pb.js";
import { collector, type ScriptedWorld, steppingClock } from "./scripted.js";
import { transcriptProblems } from "./well-formed.js";

export interface JobRun {
  result: JobResult;
  events: JobEvent[];
  /** Problems with the event stream as a transcript (empty when well formed). */
  problems: string[];
}

export async function runScripted(
  world: ScriptedWorld,
  strategy: Strategy,
  task: string,
  params: MessageInitShape<typeof StrategyParamsSchema> = {},
  budgets?: MessageInitShape<typeof BudgetsSchema>,
  extra: Partial<RunJobOptions> = {},
): Promise<JobRun> {
  const { events, emit } = collector();
  const spec = create(JobSpecSchema, {
    task,
    strategy,
    params: create(StrategyParamsSchema, params),
    ...(budgets !== undefined ? { budgets: create(BudgetsSchema, budgets) } : {}),
  });
  const result = await runJob({
    jobId: "job-1",
    spec,
    models: world,
    seats: world,
    emit,
    now: steppingClock(),
    random: seededRandom(42),
    ...extra,
  });
  return { result, events, problems: transcriptProblems(events) };
}
