/**
 * Likelihood evaluation: the evaluator's own model scores each peer's answer as a continuation of its own
 * proposal prompt (prefill only); log-probabilities become weights (likelihood-weight.ts explains the map).
 */

import { likelihoodWeights } from "../likelihood-weight.js";
import type { SeatInfo } from "../ports.js";
import { buildScorePrompt } from "../prompts/evaluate.js";
import type { JobRuntime } from "../runtime/job-runtime.js";
import type { JudgedCandidate, ModeResult, ShownCandidateWithSeat } from "./candidates.js";
import { stanceOf } from "./evaluate-verdict.js";

export async function evaluateLikelihood(
  rt: JobRuntime,
  round: number,
  evaluator: SeatInfo,
  shown: readonly ShownCandidateWithSeat[],
): Promise<ModeResult> {
  const profile = evaluator.profile;
  const basis = profile.likelihoodBasis ?? (profile.format === "raw" ? "total" : "mean");
  const out = await rt.score({
    round,
    seat: evaluator,
    prompt: buildScorePrompt(profile, rt.spec.task),
    candidates: shown.map((c) => c.answer),
  });
  const r: ModeResult = {
    judged: [],
    valid: false,
    abstainReason: "",
    attempts: 1,
    promptTokens: out.usage.promptTokens,
    completionTokens: out.usage.completionTokens,
    latencyMs: out.latencyMs,
  };
  const scores = out.result.candidates;
  if (scores.length !== shown.length) {
    r.abstainReason = `the worker scored ${scores.length} candidates; ${shown.length} were sent`;
    return r;
  }
  const weights = likelihoodWeights(
    scores.map((s) => ({ totalLogprob: s.totalLogprob, tokenCount: s.tokens.length })),
    basis,
  );
  shown.forEach((c, k) => {
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
