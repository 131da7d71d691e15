/** `single`: the best single worker answers once (re-seated once if its worker fails). */
import { PromptKind, StopReason } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { SeatRole } from "../../../../proto/gen/conclave/v1/plan_pb.js";
import { buildProposePrompt } from "../prompts/propose.js";
import type { JobRuntime } from "../runtime/job-runtime.js";
import { generateProposal } from "../runtime/propose.js";
import { acquireSeats, emitSeated } from "../runtime/seating.js";
import { emitSimpleSummary, withOneReseat } from "./common.js";
import type { StrategyOutcome } from "./outcome.js";

export async function runSingle(rt: JobRuntime): Promise<StrategyOutcome> {
  const seats = await acquireSeats(rt, [{ role: SeatRole.SOLO, count: 1, min: 1 }], 1);
  const solo = seats[0];
  if (solo === undefined) throw new Error("acquireSeats returned no seat despite min 1");
  emitSeated(rt, 1, seats);
  const snapshot = rt.beginRound(1, seats);
  const { value: answer } = await withOneReseat(rt, 1, solo, [], (seat) =>
    generateProposal(rt, {
      round: 1,
      seat,
      prompt: buildProposePrompt({
        profile: seat.profile,
        task: rt.spec.task,
        systemPrompt: rt.spec.systemPrompt,
      }),
      kind: PromptKind.PROPOSE,
      temperature: rt.params.temperature,
    }),
  );
  rt.best = { answer: answer.answer, winnerSeatId: answer.seatId, round: 1 };
  emitSimpleSummary(rt, snapshot, {
    winnerSeatId: answer.seatId,
    winnerAnswer: answer.answer,
    conviction: 1,
  });
  return {
    answer: answer.answer,
    winnerSeatId: answer.seatId,
    stopReason: StopReason.COMPLETED,
    stopDetail: "the single seat answered",
    rounds: 1,
  };
}
