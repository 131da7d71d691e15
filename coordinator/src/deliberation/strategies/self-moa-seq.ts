/**
 * `self-moa-seq`: Self-MoA with a sliding window. Each step the proposer seats (samples of the single best
 * model) write `window` fresh samples; the aggregator sees the current synthesis plus those samples and
 * writes the next synthesis. The aggregator's context is bounded by the window however many steps run.
 */
import { StopReason } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { SeatRole } from "../../../../proto/gen/conclave/v1/plan_pb.js";
import type { SeatInfo } from "../ports.js";
import { buildProposePrompt } from "../prompts/propose.js";
import type { JobRuntime } from "../runtime/job-runtime.js";
import { acquireSeats, emitSeated } from "../runtime/seating.js";
import { answerAll, emitSimpleSummary, refill, requireAnswers } from "./common.js";
import { aggregate } from "./moa.js";
import type { StrategyOutcome } from "./outcome.js";

export async function runSelfMoaSeq(rt: JobRuntime): Promise<StrategyOutcome> {
  const p = rt.params;
  const seats = await acquireSeats(
    rt,
    [
      { role: SeatRole.PROPOSER, count: p.window, min: 1, sameModel: true },
      { role: SeatRole.AGGREGATOR, count: 1, min: 1 },
    ],
    1,
  );
  emitSeated(rt, 1, seats);
  let proposers = seats.filter((s) => s.seat.role === SeatRole.PROPOSER);
  let aggregator = seats.find((s) => s.seat.role === SeatRole.AGGREGATOR) as SeatInfo;
  let synthesis: { answer: string; seatId: string } | undefined;
  let step = 1;
  for (; step <= p.maxRounds; step++) {
    if (step > 1) rt.checkBudgets();
    const snapshot = rt.beginRound(step, [...proposers, aggregator]);
    const res = await answerAll(
      rt,
      step,
      proposers,
      (seat) =>
        buildProposePrompt({ profile: seat.profile, task: rt.spec.task, systemPrompt: rt.spec.systemPrompt }),
      p.temperature,
    );
    const samples = [...res.ok.values()];
    requireAnswers(step, samples, 1, "samples");
    const { record, seat } = await aggregate(rt, step, aggregator, proposers, samples, synthesis?.answer);
    aggregator = seat;
    synthesis = { answer: record.answer, seatId: record.seatId };
    rt.best = { answer: record.answer, winnerSeatId: record.seatId, round: step };
    emitSimpleSummary(rt, snapshot, {
      winnerSeatId: record.seatId,
      winnerAnswer: record.answer,
      conviction: 1,
    });
    if (step < p.maxRounds) proposers = await refill(rt, step + 1, proposers, res.failed, [aggregator]);
    if (proposers.length === 0) break;
  }
  const rounds = Math.min(step, p.maxRounds);
  return {
    answer: synthesis?.answer ?? "",
    winnerSeatId: synthesis?.seatId ?? "",
    stopReason: StopReason.COMPLETED,
    stopDetail: `${rounds} synthesis step(s) of ${p.window} fresh sample(s) each`,
    rounds,
  };
}
