/**
 * Likelihood peer review: turning an evaluator's log-probabilities of its peers' answers into endorsement
 * weights. Pure.
 *
 * Mapping: w_j = 100 · exp(s_j − max_k s_k), where s is the log-probability on the profile's basis
 * (`total`: log P(answer, then EOS); `mean`: mean per-token log-probability). So
 * - the candidate the evaluator finds most likely gets exactly 100, every other one its likelihood ratio
 *   to that best candidate (a 10× less likely answer gets 10): the best candidate always gets the most credit;
 * - after quadratic voting's normalisation, f_ij = p_ij / Σ_k p_ik: the evaluator spends its one credit in
 *   proportion to the probability it gives each peer's answer. Summed over evaluators this tracks "sum of
 *   peers' PROPOSE probabilities", the rule TASK-MODELS.md measured best on the arithmetic models (0.918,
 *   against 0.854 for majority vote), with √ damping any single evaluator's certainty;
 * - weights are never negative: a confidently wrong evaluator can withhold credit from the right answer but
 *   cannot vote it down, which keeps one bad model from sinking a correct majority.
 */
import type { LikelihoodBasis } from "./ports.js";

export interface CandidateLogprob {
  /** Sum of the candidate's token log-probabilities (including EOS when it was appended). */
  totalLogprob: number;
  /** Number of scored tokens. */
  tokenCount: number;
}

/** The basis value of one candidate, or undefined when it cannot be used. */
export function likelihoodScore(c: CandidateLogprob, basis: LikelihoodBasis): number | undefined {
  if (!Number.isFinite(c.totalLogprob) || c.totalLogprob > 0) return undefined;
  if (basis === "total") return c.totalLogprob;
  return c.tokenCount > 0 ? c.totalLogprob / c.tokenCount : undefined;
}

/** Weights in (0, 100] per candidate, in input order; undefined for a candidate without a usable score. */
export function likelihoodWeights(
  candidates: ReadonlyArray<CandidateLogprob | undefined>,
  basis: LikelihoodBasis,
): Array<number | undefined> {
  const scores = candidates.map((c) => (c === undefined ? undefined : likelihoodScore(c, basis)));
  const usable = scores.filter((s): s is number => s !== undefined);
  if (usable.length === 0) return scores.map(() => undefined);
  const best = Math.max(...usable);
  return scores.map((s) => (s === undefined ? undefined : 100 * Math.exp(s - best)));
}
