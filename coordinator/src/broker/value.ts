/**
 * The broker's value and cost model. Shared by the solver, the explanations and the tests' brute force,
 * so "what a plan is worth" has one definition.
 *
 * Value of a seat (worker w, role r): match(w, r) × quality_w[domain] × reliability_w × weight_r, where
 * match is 0 when w lacks an ability or required tag of r (the pair is not a candidate), `offDomainFactor`
 * when w is not tagged with the task's domain, else 1.
 *
 * Value of a plan: agent seats are grouped by model; within a model, seats sorted by value are weighted
 * 1, ρ, ρ², … (ρ = repeatDecay), non-agent seats (aggregator, chairman) count in full. Why: repeated samples
 * of one model are correlated, so each extra sample adds less (this is the whole Self-MoA vs mixture
 * question — Self-MoA, arXiv 2502.00674, finds one strong model sampled N times often beats a mixture
 * because mixing lowers average quality; MoA finds diversity helps when models are comparable). With the
 * geometric decay, stacking k seats on a model of quality q beats adding a different model of quality q'
 * exactly when q·ρ^(k−1) > q'. ρ = 0.8 keeps a strong model (≈ +30% quality) stacked 3–4 deep, while
 * comparable models mix. ρ = 1 is "always stack the best", ρ = 0 is "one seat per model". The weights are
 * applied to the sorted values (an ordered weighted sum with decreasing weights), which makes plan value
 * submodular in the seat set — the property the solver's bound relies on.
 *
 * Cost: a seat's expected seconds per round are overhead + prompt/prefill_tps + completion/generation_tps.
 * k seats on one worker run as parallel sequences: the worker's round takes max + σ·(sum − max) of its
 * seats' seconds (σ = concurrencySlowdown; equal seats: s·(1 + σ(k − 1))). Compute cost of a plan = Σ of
 * its workers' round times (the seconds their hardware is busy); energy = Σ watts × round time.
 */
import type { ResolvedRequest, ResolvedRole } from "./request.js";
import type { BrokerWorker, TokenEstimate } from "./types.js";

export interface MatchResult {
  /** 0 when the worker cannot take the role. */
  match: number;
  /** Why the worker cannot take the role (missing abilities / tags). */
  missing: string[];
}

export function capabilityMatch(worker: BrokerWorker, role: ResolvedRole, req: ResolvedRequest): MatchResult {
  const missing: string[] = [];
  for (const a of role.abilities) if (!worker.abilities.includes(a)) missing.push(`ability ${a}`);
  for (const t of role.requiredTags) if (!worker.tags.includes(t)) missing.push(`tag ${t}`);
  if (missing.length > 0) return { match: 0, missing };
  const onDomain = req.domain === "general" || worker.tags.includes(req.domain);
  return { match: onDomain ? 1 : req.offDomainFactor, missing };
}

/** Expected seconds for one seat alone; Infinity when a needed throughput is unknown (0). */
export function seatSeconds(worker: BrokerWorker, tokens: TokenEstimate): number {
  const part = (n: number, tps: number) => (n <= 0 ? 0 : tps > 0 ? n / tps : Number.POSITIVE_INFINITY);
  return (
    (worker.overheadSeconds ?? 0) +
    part(tokens.prompt, worker.prefillTokensPerSecond) +
    part(tokens.completion, worker.generationTokensPerSecond)
  );
}

/** Round time of one worker holding seats with these single-seat seconds. */
export function workerRoundSeconds(seconds: readonly number[], sigma: number): number {
  if (seconds.length === 0) return 0;
  let max = 0;
  let sum = 0;
  for (const s of seconds) {
    sum += s;
    if (s > max) max = s;
  }
  return max + sigma * (sum - max);
}

/**
 * Whether an expected time or a spend fits a limit. The relative tolerance absorbs floating-point noise so
 * that an exact fit (say 2 seats taking exactly the budget) counts as fitting everywhere alike.
 */
export function fits(used: number, limit: number): boolean {
  return used <= limit * (1 + 1e-9) + 1e-12;
}

/** Most seats of `s` seconds each (capped at `slots`) that fit a latency budget on one worker. */
export function seatsWithinLatency(s: number, sigma: number, latency: number, slots: number): number {
  let k = 0;
  while (k < slots && fits(s * (1 + sigma * k), latency)) k++;
  return k;
}

/** Ordered weighted sum with weights 1, ρ, ρ², … over values sorted in decreasing order. */
export function decayedSum(values: readonly number[], rho: number): number {
  const sorted = [...values].sort((a, b) => b - a);
  let total = 0;
  let w = 1;
  for (const v of sorted) {
    total += w * v;
    w *= rho;
  }
  return total;
}

export function ordinal(n: number): string {
  const mod100 = n % 100;
  const suffix = mod100 >= 11 && mod100 <= 13 ? "th" : (["th", "st", "nd", "rd"][n % 10] ?? "th");
  return `${n}${n % 10 > 3 ? "th" : suffix}`;
}
