/** Turning a tallied round into the transcript's RoundSummary and the state view's memory. Pure. */
import { create } from "@bufbuild/protobuf";
import type { Usage } from "../../../../proto/gen/conclave/v1/common_pb.js";
import {
  type RoundSummary,
  RoundSummarySchema,
  TallySchema,
  VoteSchema,
} from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { rankTallies, type TallyResult } from "../quadratic-vote.js";
import type { ProposalRecord } from "../runtime/propose.js";
import type { LedgerClaim, RoundMemory } from "../state-view.js";

export interface EvaluationNotes {
  /** Candidate seat id → critique, per evaluator. */
  critiques: ReadonlyMap<string, string>;
  claims: readonly LedgerClaim[];
}

export function roundMemory(
  round: number,
  tally: TallyResult,
  proposals: readonly ProposalRecord[],
  notes: readonly EvaluationNotes[],
  costs: ReadonlyMap<string, number>,
): RoundMemory {
  const bySeat = new Map(proposals.map((p) => [p.seatId, p]));
  const entries = rankTallies(tally.tallies, costs).flatMap((t) => {
    const p = bySeat.get(t.seatId);
    if (p === undefined) return [];
    const critiques = notes.flatMap((n) => {
      const c = n.critiques.get(t.seatId);
      return c === undefined ? [] : [c];
    });
    return [
      { seatId: t.seatId, answer: p.answer, rationale: p.rationale, netSupport: t.netSupport, critiques },
    ];
  });
  return {
    round,
    winnerSeatId: tally.winnerSeatId ?? "",
    conviction: tally.conviction,
    entries,
    claims: notes.flatMap((n) => n.claims),
  };
}

export interface SummaryExtras {
  winnerAnswer: string;
  winnerStable: boolean;
  durationMs: number;
  usage: Usage;
  meanPromptTokensPerAgent: number;
}

/**
 * The round's summary. `conviction` is the positive-mass conviction the stopping rule used (not the brief's
 * ns_win / Σ|ns|, which the tallies' net supports give back); see quadratic-vote.ts.
 */
export function roundSummary(round: number, tally: TallyResult, x: SummaryExtras): RoundSummary {
  return create(RoundSummarySchema, {
    round,
    winnerSeatId: tally.winnerSeatId ?? "",
    winnerAnswer: x.winnerAnswer,
    conviction: tally.conviction,
    tallies: tally.tallies.map((t) =>
      create(TallySchema, {
        seatId: t.seatId,
        support: t.support,
        netSupport: t.netSupport,
        evaluators: t.evaluators,
        runningMeanSupport: t.runningMeanSupport,
        votesFor: t.votesFor,
      }),
    ),
    votes: tally.votes.map((v) =>
      create(VoteSchema, {
        evaluatorSeatId: v.evaluatorSeatId,
        candidateSeatId: v.candidateSeatId,
        weight: v.weight,
        credit: v.credit,
        vote: v.vote,
      }),
    ),
    durationMs: x.durationMs,
    usage: x.usage,
    meanPromptTokensPerAgent: x.meanPromptTokensPerAgent,
    winnerStable: x.winnerStable,
  });
}
