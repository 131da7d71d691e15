/** `majority` (self-consistency): N independent samples, answer extraction, majority vote. */
import { StopReason } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { SeatRole } from "../../../../proto/gen/conclave/v1/plan_pb.js";
import { buildProposePrompt } from "../prompts/propose.js";
import type { JobRuntime } from "../runtime/job-runtime.js";
import { acquireSeats, emitSeated } from "../runtime/seating.js";
import { QUORUM } from "../stopping-rule.js";
import { answerAll, emitSimpleSummary, majorityOf, requireAnswers } from "./common.js";
import type { StrategyOutcome } from "./outcome.js";

export async function runMajority(rt: JobRuntime): Promise<StrategyOutcome> {
  const seats = await acquireSeats(rt, [{ role: SeatRole.AGENT, count: rt.params.agents, min: QUORUM }], 1);
  emitSeated(rt, 1, seats);
  const snapshot = rt.beginRound(1, seats);
  const res = await answerAll(
    rt,
    1,
    seats,
    (seat) =>
      buildProposePrompt({ profile: seat.profile, task: rt.spec.task, systemPrompt: rt.spec.systemPrompt }),
    rt.params.temperature,
  );
  const answers = [...res.ok.values()];
  requireAnswers(1, answers, QUORUM, "answers");
  const { winner, conviction } = majorityOf(answers);
  rt.best = { answer: winner.answer, winnerSeatId: winner.seatId, round: 1 };
  emitSimpleSummary(rt, snapshot, {
    winnerSeatId: winner.seatId,
    winnerAnswer: winner.answer,
    conviction,
    groupAnswers: answers,
  });
  return {
    answer: winner.answer,
    winnerSeatId: winner.seatId,
    stopReason: StopReason.COMPLETED,
    stopDetail: `majority vote: ${Math.round(conviction * answers.length)} of ${answers.length} answers agree`,
    rounds: 1,
  };
}
