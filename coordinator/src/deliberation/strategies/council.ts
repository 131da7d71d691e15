/**
 * `council`: agents answer; one round of anonymised peer ranking (NSED's masked evaluation, so every mode
 * works, tallied by quadratic vote); then a chairman synthesises from the answers in ranked order.
 */
import { create } from "@bufbuild/protobuf";
import {
  AliasEntrySchema,
  AliasMapSchema,
  PromptKind,
  StopReason,
} from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { SeatRole } from "../../../../proto/gen/conclave/v1/plan_pb.js";
import { makeNonce } from "../fence.js";
import { evaluateSeat } from "../nsed/evaluate.js";
import { roundSummary } from "../nsed/round-summary.js";
import type { SeatInfo } from "../ports.js";
import { buildAggregatePrompt } from "../prompts/aggregate.js";
import { buildProposePrompt } from "../prompts/propose.js";
import { rankTallies, tallyRound } from "../quadratic-vote.js";
import type { JobRuntime } from "../runtime/job-runtime.js";
import { runPhase } from "../runtime/phase.js";
import { generateProposal, type ProposalRecord } from "../runtime/propose.js";
import { acquireSeats, emitSeated } from "../runtime/seating.js";
import { QUORUM } from "../stopping-rule.js";
import { answerAll, emitSimpleSummary, fitShown, requireAnswers, withOneReseat } from "./common.js";
import type { StrategyOutcome } from "./outcome.js";

function ordinal(n: number): string {
  const s = n % 100 >= 11 && n % 100 <= 13 ? "th" : (["th", "st", "nd", "rd"][n % 10] ?? "th");
  return `${n}${s}`;
}

export async function runCouncil(rt: JobRuntime): Promise<StrategyOutcome> {
  const p = rt.params;
  const seats = await acquireSeats(
    rt,
    [
      { role: SeatRole.AGENT, count: p.agents, min: QUORUM },
      { role: SeatRole.CHAIRMAN, count: 1, min: 1 },
    ],
    1,
  );
  emitSeated(rt, 1, seats);
  let agents = seats.filter((s) => s.seat.role === SeatRole.AGENT);
  const chairman = seats.find((s) => s.seat.role === SeatRole.CHAIRMAN) as SeatInfo;

  // Round 1: everyone answers.
  let snapshot = rt.beginRound(1, agents);
  const res = await answerAll(
    rt,
    1,
    agents,
    (seat) =>
      buildProposePrompt({ profile: seat.profile, task: rt.spec.task, systemPrompt: rt.spec.systemPrompt }),
    p.temperature,
  );
  const answers = [...res.ok.values()];
  requireAnswers(1, answers, QUORUM, "answers");
  emitSimpleSummary(rt, snapshot, { groupAnswers: answers });
  agents = agents.filter((s) => !res.failed.includes(s));

  // Round 2: anonymised ranking.
  rt.checkBudgets();
  snapshot = rt.beginRound(2, agents);
  const own = new Map(answers.map((a) => [a.seatId, a.answer]));
  const ranked = await runPhase(rt, 2, agents, (seat) => {
    const mine = own.get(seat.seat.seatId);
    return evaluateSeat(rt, {
      round: 2,
      evaluator: seat,
      candidates: answers,
      ...(mine !== undefined ? { ownAnswer: mine } : {}),
    });
  });
  const costs = new Map(answers.map((a) => [a.seatId, a.completionTokens]));
  const tally = tallyRound({
    candidates: answers.map((a) => a.seatId),
    evaluations: [...ranked.ok.values()].map((e) => ({
      evaluatorSeatId: e.evaluatorSeatId,
      valid: e.valid,
      weights: e.weights,
    })),
    costs,
    answerKeys: new Map(answers.map((a) => [a.seatId, a.key])),
  });
  const bySeat = new Map(answers.map((a) => [a.seatId, a]));
  const order = rankTallies(tally.tallies, costs).flatMap((t) => {
    const a = bySeat.get(t.seatId);
    return a === undefined ? [] : [{ answer: a, netSupport: t.netSupport }];
  });
  const top = order[0]?.answer as ProposalRecord;
  rt.best = { answer: top.answer, winnerSeatId: top.seatId, round: 2 };
  const stats = rt.endRound(snapshot);
  rt.emit({
    case: "roundCompleted",
    value: roundSummary(2, tally, {
      winnerAnswer: top.answer,
      winnerStable: false,
      durationMs: stats.durationMs,
      usage: stats.usage,
      meanPromptTokensPerAgent: stats.meanPromptTokensPerAgent,
    }),
  });

  // Round 3: the chairman synthesises from the answers, best ranked first.
  rt.checkBudgets();
  snapshot = rt.beginRound(3, [chairman]);
  const { value: final } = await withOneReseat(rt, 3, chairman, agents, (seat) => {
    const responses = order.map((o, i) => ({ label: `Response ${i + 1}`, text: o.answer.answer }));
    rt.emit({
      case: "aliasMap",
      value: create(AliasMapSchema, {
        round: 3,
        evaluatorSeatId: seat.seat.seatId,
        entries: order.map((o, i) =>
          create(AliasEntrySchema, { alias: `Response ${i + 1}`, seatId: o.answer.seatId }),
        ),
      }),
    });
    const rankingNote =
      "The panel ranked the responses anonymously; they are listed best first (" +
      order.map((o, i) => `${ordinal(i + 1)}: net support ${o.netSupport.toFixed(2)}`).join(", ") +
      ").";
    const nonce = makeNonce(rt.random);
    const fitted = fitShown(rt, seat, PromptKind.AGGREGATE, "the chairman's prompt", responses, (xs) =>
      buildAggregatePrompt({ task: rt.spec.task, responses: xs, nonce, rankingNote }),
    );
    return generateProposal(rt, {
      round: 3,
      seat,
      prompt: fitted.prompt,
      maxTokens: fitted.maxTokens,
      kind: PromptKind.AGGREGATE,
      temperature: p.judgeTemperature,
    });
  });
  rt.best = { answer: final.answer, winnerSeatId: final.seatId, round: 3 };
  emitSimpleSummary(rt, snapshot, { winnerSeatId: final.seatId, winnerAnswer: final.answer, conviction: 1 });
  return {
    answer: final.answer,
    winnerSeatId: final.seatId,
    stopReason: StopReason.COMPLETED,
    stopDetail: `chairman synthesised ${answers.length} ranked answers`,
    rounds: 3,
  };
}
