/**
 * Likelihood evaluation: the evaluator's own model scores each peer's answer as a continuation of its own
 * proposal prompt (prefill only); log-probabilities become weights (likelihood-weight.ts explains the map).
 * A candidate is scored whole or not at all (a cut answer is another answer): one too long for the
 * evaluator's context beside the prompt is left unscored, so it gets no weight from this evaluator.
 */
import { FaultKind } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { likelihoodWeights } from "../likelihood-weight.js";
import type { SeatInfo } from "../ports.js";
import { buildScorePrompt } from "../prompts/evaluate.js";
import { promptText } from "../prompts/prompt-input.js";
import { unlessWorkerFault } from "../runtime/faults.js";
import type { JobRuntime } from "../runtime/job-runtime.js";
import {
  emptyModeResult,
  type JudgedCandidate,
  type ModeResult,
  type ShownCandidateWithSeat,
} from "./candidates.js";
import { stanceOf } from "./evaluate-verdict.js";

export async function evaluateLikelihood(
  rt: JobRuntime,
  round: number,
  evaluator: SeatInfo,
  shown: readonly ShownCandidateWithSeat[],
): Promise<ModeResult> {
  const profile = evaluator.profile;
  const basis = profile.likelihoodBasis ?? (profile.format === "raw" ? "total" : "mean");
  const prompt = buildScorePrompt(profile, rt.spec.task);
  const room = rt.contexts.budget(evaluator, 0) - rt.countTokens(promptText(prompt));
  const scorable = shown.filter((c) => rt.countTokens(c.answer) <= room);
  const r = emptyModeResult();
  r.attempts = 1;
  for (const c of shown.filter((x) => !scorable.includes(x))) {
    r.faults.push({
      kind: FaultKind.ERROR,
      message: `${c.alias} was not scored: its answer does not fit ${evaluator.seat.seatId}'s context beside the prompt`,
      workerFault: false,
    });
  }
  if (scorable.length === 0) {
    r.abstainReason = "no candidate fits the evaluator's context beside its prompt";
    return r;
  }
  const call = await unlessWorkerFault(() =>
    rt.score({ round, seat: evaluator, prompt, candidates: scorable.map((c) => c.answer) }),
  );
  if (!call.ok) {
    r.faults.push(call.fault);
    r.abstainReason = call.fault.message.slice(0, 1000);
    return r;
  }
  const out = call.value;
  r.promptTokens = out.usage.promptTokens;
  r.completionTokens = out.usage.completionTokens;
  r.latencyMs = out.latencyMs;
  const scores = out.result.candidates;
  if (scores.length !== scorable.length) {
    r.abstainReason = `the worker scored ${scores.length} candidates; ${scorable.length} were sent`;
    return r;
  }
  const weights = likelihoodWeights(
    scores.map((s) => ({ totalLogprob: s.totalLogprob, tokenCount: s.tokens.length })),
    basis,
  );
  scorable.forEach((c, k) => {
    const w = weights[k];
    const s = scores[k];
    if (w === undefined || s === undefined) return;
    r.judged.push({
      seatId: c.seatId,
      alias: c.alias,
      weight: w,
      stance: stanceOf(w),
      claims: [],
      critique: `log P = ${s.totalLogprob.toFixed(3)} over ${s.tokens.length} token(s)`,
    } satisfies JudgedCandidate);
  });
  r.valid = r.judged.length > 0;
  if (!r.valid) r.abstainReason = "no candidate had a usable log-probability";
  return r;
}
