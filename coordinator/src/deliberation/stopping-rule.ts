/**
 * When NSED stops (brief §5.6). Pure: every input is a number the engine measured.
 *
 * The conviction is the positive-mass variant Σ max(ns, 0) of the winner's answer group / Σ max(ns, 0)
 * (quadratic-vote.ts `conviction` says why the brief's ns_win / Σ|ns| cannot converge when the panel
 * firmly rejects the alternatives); RoundSummary.conviction reports the same value.
 *
 * Checked after each round, in this order (the first that holds is the recorded reason):
 * 1. cancelled; 2. converged: round ≥ min rounds, conviction ≥ threshold and the winner stable (same seat or
 * same answer as last round); 3. max rounds; 4. deadline: passed, or the time left is shorter than the last
 * round took (starting a round that cannot finish only wastes compute); 5. compute budget: tokens or
 * seat-seconds spent, or the next round would overrun them at the last round's rate; 6. quorum lost (< 2
 * agents able to go on). Reasons that end a job with its answer in hand come before the one that fails it:
 * quorum only matters when another round was wanted.
 */
import { StopReason } from "../../../proto/gen/conclave/v1/deliberation_pb.js";

export interface StopInput {
  /** The round just finished (1-based). */
  round: number;
  minRounds: number;
  maxRounds: number;
  /** Positive-mass conviction of the round's winner, in [0, 1]. */
  conviction: number;
  convergenceThreshold: number;
  /** The winner's answer equals the previous round's winner's answer. */
  winnerStable: boolean;
  cancelled: boolean;
  /** Agents able to take part in the next round. */
  activeAgents: number;
  elapsedMs: number;
  /** 0 = no deadline. */
  deadlineMs: number;
  lastRoundMs: number;
  tokensUsed: number;
  /** 0 = no limit. */
  maxTotalTokens: number;
  lastRoundTokens: number;
  computeSecondsUsed: number;
  /** 0 = no limit. */
  maxComputeSeconds: number;
  lastRoundComputeSeconds: number;
}

export type StopDecision = { stop: false } | { stop: true; reason: StopReason; detail: string };

export const QUORUM = 2;

export function decideStop(s: StopInput): StopDecision {
  if (s.cancelled) return { stop: true, reason: StopReason.CANCELLED, detail: "job cancelled" };
  if (s.round >= s.minRounds && s.winnerStable && s.conviction >= s.convergenceThreshold) {
    return {
      stop: true,
      reason: StopReason.CONVERGED,
      detail: `conviction ${s.conviction.toFixed(3)} ≥ ${s.convergenceThreshold} with the same winner two rounds running`,
    };
  }
  if (s.round >= s.maxRounds) {
    return { stop: true, reason: StopReason.MAX_ROUNDS, detail: `max rounds (${s.maxRounds}) reached` };
  }
  if (s.deadlineMs > 0) {
    if (s.elapsedMs >= s.deadlineMs) {
      return { stop: true, reason: StopReason.DEADLINE, detail: `deadline of ${s.deadlineMs} ms reached` };
    }
    if (s.round < s.maxRounds && s.elapsedMs + s.lastRoundMs > s.deadlineMs) {
      return {
        stop: true,
        reason: StopReason.DEADLINE,
        detail: `${Math.round(s.deadlineMs - s.elapsedMs)} ms left, the last round took ${Math.round(s.lastRoundMs)} ms`,
      };
    }
  }
  if (s.maxTotalTokens > 0) {
    if (s.tokensUsed >= s.maxTotalTokens) {
      return {
        stop: true,
        reason: StopReason.COMPUTE_BUDGET,
        detail: `${s.tokensUsed} of ${s.maxTotalTokens} completion tokens spent`,
      };
    }
    if (s.round < s.maxRounds && s.tokensUsed + s.lastRoundTokens > s.maxTotalTokens) {
      return {
        stop: true,
        reason: StopReason.COMPUTE_BUDGET,
        detail: `another round (~${s.lastRoundTokens} tokens) would exceed ${s.maxTotalTokens} completion tokens`,
      };
    }
  }
  if (s.maxComputeSeconds > 0) {
    if (s.computeSecondsUsed >= s.maxComputeSeconds) {
      return {
        stop: true,
        reason: StopReason.COMPUTE_BUDGET,
        detail: `${s.computeSecondsUsed.toFixed(1)} of ${s.maxComputeSeconds} seat-seconds spent`,
      };
    }
    if (s.round < s.maxRounds && s.computeSecondsUsed + s.lastRoundComputeSeconds > s.maxComputeSeconds) {
      return {
        stop: true,
        reason: StopReason.COMPUTE_BUDGET,
        detail: `another round (~${s.lastRoundComputeSeconds.toFixed(1)} seat-seconds) would exceed ${s.maxComputeSeconds}`,
      };
    }
  }
  if (s.activeAgents < QUORUM) {
    return {
      stop: true,
      reason: StopReason.QUORUM_LOST,
      detail: `only ${s.activeAgents} agent(s) left; deliberation needs at least ${QUORUM}`,
    };
  }
  return { stop: false };
}
