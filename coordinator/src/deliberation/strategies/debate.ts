/**
 * `debate` (multi-agent debate): N agents answer; for R rounds each sees the other agents' latest answers
 * (anonymised, fenced) and its own, and updates; the final round's answers are settled by majority vote.
 */
import { PromptKind, StopReason } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { SeatRole } from "../../../../proto/gen/conclave/v1/plan_pb.js";
import { QuorumLostError } from "../errors.js";
import { fence, makeNonce } from "../fence.js";
import { referencesContext } from "../prompts/aggregate.js";
import { buildProposePrompt } from "../prompts/propose.js";
import type { JobRuntime } from "../runtime/job-runtime.js";
import type { ProposalRecord } from "../runtime/propose.js";
import { acquireSeats, emitSeated } from "../runtime/seating.js";
import { QUORUM } from "../stopping-rule.js";
import {
  answerAll,
  emitSimpleSummary,
  fitShown,
  majorityOf,
  maskedResponses,
  refill,
  requireAnswers,
} from "./common.js";
import type { StrategyOutcome } from "./outcome.js";

const UPDATE_INSTRUCTION =
  "These are the most recent answers of the other agents. Examine their reasoning; some may be wrong. " +
  "Give your updated, complete answer: change it only where they convinced you.";

export async function runDebate(rt: JobRuntime): Promise<StrategyOutcome> {
  const p = rt.params;
  let seats = await acquireSeats(rt, [{ role: SeatRole.AGENT, count: p.agents, min: QUORUM }], 1);
  emitSeated(rt, 1, seats);
  const latest = new Map<string, ProposalRecord>();
  let final: { winner: ProposalRecord; conviction: number; n: number } | undefined;
  let round = 1;
  for (; round <= p.maxRounds; round++) {
    if (round > 1) rt.checkBudgets();
    const snapshot = rt.beginRound(round, seats);
    const known = [...latest.values()];
    const res = await answerAll(
      rt,
      round,
      seats,
      (seat) => {
        const base = { profile: seat.profile, task: rt.spec.task, systemPrompt: rt.spec.systemPrompt };
        const others = known.filter((a) => a.seatId !== seat.seat.seatId);
        if (others.length === 0 || seat.profile.format === "raw") return buildProposePrompt(base);
        const nonce = makeNonce(rt.random);
        const shown = maskedResponses(rt, round, seat.seat.seatId, known, "Agent", true);
        const own = latest.get(seat.seat.seatId);
        // The agent's own previous answer is cut like the others' when they do not all fit (it goes last).
        const mineShown = own !== undefined ? [{ label: "your previous answer", text: own.answer }] : [];
        return fitShown(rt, seat, PromptKind.PROPOSE, "the debate prompt", [...shown, ...mineShown], (xs) => {
          const mine = xs[shown.length];
          const context =
            referencesContext(
              rt.spec.task,
              "Latest answers of the other agents (anonymous)",
              xs.slice(0, shown.length),
              nonce,
            ) +
            (mine !== undefined
              ? `\n\n## Your previous answer\n${fence("your previous answer", mine.text, nonce)}`
              : "");
          return buildProposePrompt({ ...base, context, instruction: UPDATE_INSTRUCTION, nonce });
        });
      },
      p.temperature,
    );
    const answers = [...res.ok.values()];
    requireAnswers(round, answers, QUORUM, "answers");
    for (const a of answers) latest.set(a.seatId, a);
    for (const s of res.failed) latest.delete(s.seat.seatId);
    const m = majorityOf(answers);
    final = { ...m, n: answers.length };
    rt.best = { answer: m.winner.answer, winnerSeatId: m.winner.seatId, round };
    emitSimpleSummary(rt, snapshot, {
      winnerSeatId: m.winner.seatId,
      winnerAnswer: m.winner.answer,
      conviction: m.conviction,
      groupAnswers: answers,
    });
    if (round < p.maxRounds) {
      seats = await refill(rt, round + 1, seats, res.failed, []);
      if (seats.length < QUORUM) {
        throw new QuorumLostError(
          `after round ${round}: only ${seats.length} agent(s) left; debate needs ${QUORUM}`,
        );
      }
    }
  }
  const done = final as { winner: ProposalRecord; conviction: number; n: number };
  return {
    answer: done.winner.answer,
    winnerSeatId: done.winner.seatId,
    stopReason: StopReason.COMPLETED,
    stopDetail: `majority of the final round: ${Math.round(done.conviction * done.n)} of ${done.n} agents agree`,
    rounds: round - 1,
  };
}
