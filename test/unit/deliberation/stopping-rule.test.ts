import { describe, expect, it } from "vitest";
import { decideStop, type StopInput } from "../../../coordinator/src/deliberation/stopping-rule.js";
import { StopReason } from "../../../proto/gen/conclave/v1/deliberation_pb.js";

const base: StopInput = {
  round: 2,
  minRounds: 2,
  maxRounds: 6,
  conviction: 0.3,
  convergenceThreshold: 0.6,
  winnerStable: false,
  cancelled: false,
  activeAgents: 4,
  elapsedMs: 1_000,
  deadlineMs: 0,
  lastRoundMs: 500,
  tokensUsed: 100,
  maxTotalTokens: 0,
  lastRoundTokens: 50,
  computeSecondsUsed: 1,
  maxComputeSeconds: 0,
  lastRoundComputeSeconds: 0.5,
};

const reason = (over: Partial<StopInput>) => {
  const d = decideStop({ ...base, ...over });
  return d.stop ? d.reason : undefined;
};

describe("stopping rule", () => {
  it("continues while nothing holds", () => {
    expect(decideStop(base)).toEqual({ stop: false });
  });
  it("converges only with conviction ≥ threshold, a stable winner and round ≥ min rounds", () => {
    expect(reason({ conviction: 0.7, winnerStable: true })).toBe(StopReason.CONVERGED);
    expect(reason({ conviction: 0.7, winnerStable: false })).toBeUndefined();
    expect(reason({ conviction: 0.5, winnerStable: true })).toBeUndefined();
    expect(reason({ conviction: 0.9, winnerStable: true, round: 2, minRounds: 3 })).toBeUndefined();
  });
  it("stops at max rounds", () => {
    expect(reason({ round: 6 })).toBe(StopReason.MAX_ROUNDS);
  });
  it("stops at the deadline, or when the next round cannot finish before it", () => {
    expect(reason({ deadlineMs: 1_000 })).toBe(StopReason.DEADLINE);
    expect(reason({ deadlineMs: 1_400 })).toBe(StopReason.DEADLINE);
    expect(reason({ deadlineMs: 10_000 })).toBeUndefined();
  });
  it("stops when the token or seat-second budget is spent or would be overrun", () => {
    expect(reason({ maxTotalTokens: 100 })).toBe(StopReason.COMPUTE_BUDGET);
    expect(reason({ maxTotalTokens: 140 })).toBe(StopReason.COMPUTE_BUDGET);
    expect(reason({ maxTotalTokens: 1_000 })).toBeUndefined();
    expect(reason({ maxComputeSeconds: 1 })).toBe(StopReason.COMPUTE_BUDGET);
    expect(reason({ maxComputeSeconds: 1.2 })).toBe(StopReason.COMPUTE_BUDGET);
  });
  it("fails on quorum only when another round was wanted", () => {
    expect(reason({ activeAgents: 1 })).toBe(StopReason.QUORUM_LOST);
    expect(reason({ activeAgents: 1, round: 6 })).toBe(StopReason.MAX_ROUNDS);
  });
  it("records cancellation first", () => {
    expect(reason({ cancelled: true, round: 6, activeAgents: 0 })).toBe(StopReason.CANCELLED);
  });
  it("always says why", () => {
    const d = decideStop({ ...base, conviction: 0.8, winnerStable: true });
    expect(d.stop && d.detail).toMatch(/conviction 0\.800/);
  });
});
