/**
 * `moa` (Mixture-of-Agents): layers of proposers, each layer seeing all of the previous layer's answers
 * (anonymised, fenced), then one aggregator synthesises. `self-moa` is the same shape with one layer of
 * samples from the single best model (the seat provider is asked for `sameModel` proposers).
 */
import { PromptKind, StopReason } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { SeatRole } from "../../../../proto/gen/conclave/v1/plan_pb.js";
import { makeNonce } from "../fence.js";
import type { SeatInfo } from "../ports.js";
import { buildAggregatePrompt, referencesContext } from "../prompts/aggregate.js";
import { buildProposePrompt } from "../prompts/propose.js";
import type { JobRuntime } from "../runtime/job-runtime.js";
import { generateProposal, type ProposalRecord } from "../runtime/propose.js";
import { acquireSeats, emitSeated } from "../runtime/seating.js";
import {
  answerAll,
  emitSimpleSummary,
  fitShown,
  majorityOf,
  maskedResponses,
  refill,
  requireAnswers,
  withOneReseat,
} from "./common.js";
import type { StrategyOutcome } from "./outcome.js";

const REFINE_INSTRUCTION =
  "Use the answers above as references: some may be wrong. Write your own improved, complete answer.";

interface MoaShape {
  layers: number;
  sameModel: boolean;
}

/** Splits seats into proposers and the one aggregator. */
function split(seats: readonly SeatInfo[]): { proposers: SeatInfo[]; aggregator: SeatInfo } {
  const aggregator = seats.find((s) => s.seat.role === SeatRole.AGGREGATOR);
  if (aggregator === undefined) throw new Error("acquireSeats returned no aggregator despite min 1");
  return { proposers: seats.filter((s) => s.seat.role === SeatRole.PROPOSER), aggregator };
}

/** The aggregation round shared by moa, self-moa and self-moa-seq. */
export async function aggregate(
  rt: JobRuntime,
  round: number,
  aggregator: SeatInfo,
  others: readonly SeatInfo[],
  answers: readonly ProposalRecord[],
  synthesis?: string,
): Promise<{ record: ProposalRecord; seat: SeatInfo }> {
  const { value, seat } = await withOneReseat(rt, round, aggregator, others, (s) => {
    const nonce = makeNonce(rt.random);
    const responses = maskedResponses(rt, round, s.seat.seatId, answers, "Response", false);
    // The synthesis so far is cut like the responses when they do not all fit (it goes first).
    const lead = synthesis !== undefined ? [{ label: "current synthesis", text: synthesis }] : [];
    const fitted = fitShown(
      rt,
      s,
      PromptKind.AGGREGATE,
      "the aggregation prompt",
      [...lead, ...responses],
      (xs) =>
        buildAggregatePrompt({
          task: rt.spec.task,
          responses: xs.slice(lead.length),
          nonce,
          ...(lead.length > 0 ? { synthesis: xs[0]?.text ?? "" } : {}),
        }),
    );
    return generateProposal(rt, {
      round,
      seat: s,
      prompt: fitted.prompt,
      maxTokens: fitted.maxTokens,
      kind: PromptKind.AGGREGATE,
      temperature: rt.params.judgeTemperature,
    });
  });
  return { record: value, seat };
}

async function runMoaShape(rt: JobRuntime, shape: MoaShape): Promise<StrategyOutcome> {
  const p = rt.params;
  const seats = await acquireSeats(
    rt,
    [
      { role: SeatRole.PROPOSER, count: p.agents, min: 1, sameModel: shape.sameModel },
      { role: SeatRole.AGGREGATOR, count: 1, min: 1 },
    ],
    1,
  );
  emitSeated(rt, 1, seats);
  let { proposers, aggregator } = split(seats);
  let previous: ProposalRecord[] = [];
  for (let layer = 1; layer <= shape.layers; layer++) {
    if (layer > 1) rt.checkBudgets();
    const snapshot = rt.beginRound(layer, proposers);
    const prior = previous;
    const res = await answerAll(
      rt,
      layer,
      proposers,
      (seat) => {
        const base = { profile: seat.profile, task: rt.spec.task, systemPrompt: rt.spec.systemPrompt };
        if (layer === 1 || seat.profile.format === "raw") return buildProposePrompt(base);
        const nonce = makeNonce(rt.random);
        const refs = maskedResponses(rt, layer, seat.seat.seatId, prior, "Response", false);
        return fitShown(rt, seat, PromptKind.PROPOSE, "the layer prompt", refs, (xs) =>
          buildProposePrompt({
            ...base,
            context: referencesContext(
              rt.spec.task,
              "Answers from the previous layer (anonymous)",
              xs,
              nonce,
            ),
            instruction: REFINE_INSTRUCTION,
            nonce,
          }),
        );
      },
      p.temperature,
    );
    const answers = [...res.ok.values()];
    requireAnswers(layer, answers, 1, "proposals");
    const { winner } = majorityOf(answers);
    rt.best = { answer: winner.answer, winnerSeatId: winner.seatId, round: layer };
    emitSimpleSummary(rt, snapshot, { groupAnswers: answers });
    previous = answers;
    if (layer < shape.layers) proposers = await refill(rt, layer + 1, proposers, res.failed, [aggregator]);
  }
  rt.checkBudgets();
  const round = shape.layers + 1;
  const snapshot = rt.beginRound(round, [aggregator]);
  const { record, seat } = await aggregate(rt, round, aggregator, proposers, previous);
  aggregator = seat;
  rt.best = { answer: record.answer, winnerSeatId: record.seatId, round };
  emitSimpleSummary(rt, snapshot, {
    winnerSeatId: record.seatId,
    winnerAnswer: record.answer,
    conviction: 1,
  });
  return {
    answer: record.answer,
    winnerSeatId: record.seatId,
    stopReason: StopReason.COMPLETED,
    stopDetail: `aggregated ${previous.length} answers after ${shape.layers} layer(s)`,
    rounds: round,
  };
}

export function runMoa(rt: JobRuntime): Promise<StrategyOutcome> {
  return runMoaShape(rt, { layers: rt.params.layers, sameModel: false });
}

export function runSelfMoa(rt: JobRuntime): Promise<StrategyOutcome> {
  return runMoaShape(rt, { layers: 1, sameModel: true });
}
