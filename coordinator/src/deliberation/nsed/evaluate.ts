/**
 * One evaluator's turn: mask the other proposals, score them in the seat's mode, record the alias map and
 * the evaluation. The diagonal mask holds in every mode: the evaluator's own seat is never a candidate.
 */
import { create } from "@bufbuild/protobuf";
import { UsageSchema } from "../../../../proto/gen/conclave/v1/common_pb.js";
import {
  AliasEntrySchema,
  AliasMapSchema,
  CandidateEvaluationSchema,
  ClaimSchema,
  EvaluationMode,
  EvaluationSchema,
  FaultKind,
} from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { maskCandidates } from "../masking.js";
import type { SeatInfo } from "../ports.js";
import type { JobRuntime } from "../runtime/job-runtime.js";
import type { LedgerClaim } from "../state-view.js";
import type { Candidate, ModeResult, ShownCandidateWithSeat } from "./candidates.js";
import { evaluateBatch } from "./evaluate-batch.js";
import { evaluateLikelihood } from "./evaluate-likelihood.js";
import { evaluatePerCandidate } from "./evaluate-verdict.js";
import { resolveEvaluationMode } from "./evaluation-mode.js";

export interface EvaluationOutcome {
  evaluatorSeatId: string;
  mode: EvaluationMode;
  valid: boolean;
  /** Candidate seat id → weight. */
  weights: Map<string, number>;
  /** Candidate seat id → critique (batch mode only: the other modes have no prose to pass on). */
  critiques: Map<string, string>;
  claims: LedgerClaim[];
}

export interface EvaluateSeatArgs {
  round: number;
  evaluator: SeatInfo;
  /** Every proposal of the round (the evaluator's own is filtered out here). */
  candidates: readonly Candidate[];
  /** The evaluator's own answer this round, shown as a baseline in batch mode. */
  ownAnswer?: string;
}

export async function evaluateSeat(rt: JobRuntime, a: EvaluateSeatArgs): Promise<EvaluationOutcome> {
  const me = a.evaluator.seat.seatId;
  const bySeat = new Map(a.candidates.map((c) => [c.seatId, c]));
  const masked = maskCandidates(
    me,
    a.candidates.map((c) => c.seatId),
    rt.random,
  );
  const shown: ShownCandidateWithSeat[] = masked.flatMap((m) => {
    const c = bySeat.get(m.seatId);
    return c === undefined ? [] : [{ ...c, alias: m.alias }];
  });
  rt.emit({
    case: "aliasMap",
    value: create(AliasMapSchema, {
      round: a.round,
      evaluatorSeatId: me,
      entries: shown.map((s) => create(AliasEntrySchema, { alias: s.alias, seatId: s.seatId })),
    }),
  });
  const { mode, note } = resolveEvaluationMode(rt.params.evaluationMode, a.evaluator.profile);
  if (note !== undefined) rt.log(`${me}: ${note}`);
  let r: ModeResult;
  if (mode === EvaluationMode.BATCH) r = await evaluateBatch(rt, a.round, a.evaluator, shown, a.ownAnswer);
  else if (mode === EvaluationMode.PER_CANDIDATE)
    r = await evaluatePerCandidate(rt, a.round, a.evaluator, shown);
  else r = await evaluateLikelihood(rt, a.round, a.evaluator, shown);
  // Defence in depth: whatever a mode returned, the evaluator's own seat is dropped.
  const judged = r.judged.filter((j) => j.seatId !== me && bySeat.has(j.seatId));
  rt.emit({
    case: "evaluation",
    value: create(EvaluationSchema, {
      round: a.round,
      evaluatorSeatId: me,
      mode,
      candidates: judged.map((j) =>
        create(CandidateEvaluationSchema, {
          candidateSeatId: j.seatId,
          alias: j.alias,
          weight: j.weight,
          stance: j.stance,
          claims: j.claims.map((c) => create(ClaimSchema, { text: c.text, verdict: c.verdict })),
          critique: j.critique,
        }),
      ),
      valid: r.valid,
      abstainReason: r.abstainReason,
      attempts: r.attempts,
      usage: create(UsageSchema, { promptTokens: r.promptTokens, completionTokens: r.completionTokens }),
      latencyMs: r.latencyMs,
    }),
  });
  // Faults that were not the worker's (a prompt too long for its context) are recorded, never held against it.
  for (const f of r.faults) rt.recordFault(a.round, a.evaluator, f.kind, f.message, false);
  if (!r.valid && r.faults.length === 0)
    rt.recordFault(a.round, a.evaluator, FaultKind.INVALID_OUTPUT, `abstains: ${r.abstainReason}`);
  return {
    evaluatorSeatId: me,
    mode,
    valid: r.valid,
    weights: new Map(judged.map((j) => [j.seatId, j.weight])),
    critiques: new Map(
      mode === EvaluationMode.BATCH
        ? judged.filter((j) => j.critique.trim() !== "").map((j) => [j.seatId, j.critique])
        : [],
    ),
    claims: judged.flatMap((j) => j.claims),
  };
}
