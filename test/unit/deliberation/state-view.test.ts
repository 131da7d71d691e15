import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  buildStateView,
  pruneHistory,
  type RoundMemory,
  type StateViewOptions,
} from "../../../coordinator/src/deliberation/state-view.js";
import { estimateTokens } from "../../../coordinator/src/deliberation/token-counter.js";
import { ClaimVerdict } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { fencedBlocks } from "./support/scripted.js";

const TASK = "Explain why the sum of two odd numbers is always even, with a short proof.";

function memory(round: number, size = 400): RoundMemory {
  const seats = ["agent-1", "agent-2", "agent-3", "agent-4"];
  return {
    round,
    winnerSeatId: seats[round % 4] as string,
    conviction: 0.4,
    entries: seats.map((seatId, k) => ({
      seatId,
      answer: `Round ${round} answer by ${k}: ${"proof text ".repeat(size / 11)}`,
      rationale: `rationale ${round}/${k} ${"because ".repeat(10)}`,
      netSupport: 0.5 - k * 0.3,
      critiques: [
        `critique A of ${k} in ${round}: ${"detail ".repeat(20)}`,
        `critique B ${"more ".repeat(20)}`,
        `critique C ${"x ".repeat(30)}`,
      ],
    })),
    claims: seats.flatMap((_, k) => [
      { text: `claim ${round}.${k}: odd = 2k+1`, verdict: ClaimVerdict.VERIFIED },
      { text: `claim ${round}.${k}b: sum is odd`, verdict: ClaimVerdict.WRONG },
    ]),
  };
}

const opts = (over: Partial<StateViewOptions> = {}): StateViewOptions => ({
  gamma: 0.5,
  dropBelow: 0.1,
  tokenBudget: 1500,
  historyShare: 0.15,
  countTokens: estimateTokens,
  nonce: "0123456789ab",
  ...over,
});

function viewAt(round: number, o = opts(), size = 400) {
  let history: RoundMemory[] = [];
  for (let r = 1; r < round; r++) history = pruneHistory([...history, memory(r, size)], o.gamma, o.dropBelow);
  return buildStateView({ task: TASK, seatId: "agent-2", history }, o);
}

describe("state view", () => {
  it("round 1 is the task alone", () => {
    const v = viewAt(1);
    expect(v.sections).toEqual(["task"]);
    expect(v.text).toContain(TASK);
  });

  it("holds the task, the last winner in full, own proposal with score and critiques, ledger and scores", () => {
    const v = viewAt(2);
    expect(v.sections).toEqual(["task", "winner", "own", "ledger", "scores"]);
    const m = memory(1);
    const winner = m.entries.find((e) => e.seatId === m.winnerSeatId);
    expect(v.text).toContain(winner?.answer);
    expect(v.text).toMatch(/Your last proposal: net support [+-]\d\.\d\d, ranked 2 of 4/);
    expect(v.text).toContain("critique A of 1 in 1");
    expect(v.text).toMatch(/wrong: claim 1\.\db: sum is odd/);
  });

  it("forgets old rounds: summaries fade by γ^age and vanish below the threshold", () => {
    const v = viewAt(8);
    expect(v.sections).toContain("earlier");
    const earlier = fencedBlocks(v.text).find((b) => b.label === "earlier winners")?.body ?? "";
    // Last round is 7 (age 0, in full); ages 1–3 (rounds 6, 5, 4) weigh 0.5, 0.25, 0.125; round 3 (0.0625) is gone.
    expect(earlier).toMatch(/^Round 6/m);
    expect(earlier).toMatch(/^Round 4/m);
    expect(earlier).not.toMatch(/^Round 3/m);
    const lengths = earlier.split("\n").map((l) => l.length);
    expect(lengths[0]).toBeGreaterThan(lengths[2] as number);
  });

  it("stays within its token budget over 8 rounds and is flat (round 8 within 1.2× of round 2)", () => {
    const sizes = [1, 2, 3, 4, 5, 6, 7, 8].map((r) => viewAt(r).tokens);
    for (const s of sizes) expect(s).toBeLessThanOrEqual(1500);
    expect(sizes[7]).toBeLessThanOrEqual((sizes[1] as number) * 1.2);
  });

  it("property: never exceeds the budget (beyond the task) for any budget, γ and answer size", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 64, max: 3000 }),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 4000 }),
        fc.integer({ min: 1, max: 9 }),
        (budget, gamma, size, round) => {
          const v = viewAt(round, opts({ tokenBudget: budget, gamma }), size);
          expect(v.tokens).toBeLessThanOrEqual(Math.max(budget, estimateTokens(`## Task\n${TASK}`)));
          // Cutting never breaks a fence: every BEGIN has its END.
          const begins = (v.text.match(/<<<BEGIN /g) ?? []).length;
          expect(fencedBlocks(v.text)).toHaveLength(begins);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("fences every text another agent wrote", () => {
    const v = viewAt(3);
    const outside = v.text.replace(/<<<BEGIN [\s\S]*?<<<END [0-9a-f]+>>>/g, "");
    expect(outside).not.toMatch(/proof text|critique A|claim 2\./);
  });
});
