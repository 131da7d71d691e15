import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type EvaluatorWeights,
  quadraticVotes,
  tallyRound,
} from "../../../coordinator/src/deliberation/quadratic-vote.js";

const ev = (id: string, weights: Record<string, number>, valid = true): EvaluatorWeights => ({
  evaluatorSeatId: id,
  valid,
  weights: new Map(Object.entries(weights)),
});

const seats = ["a", "b", "c", "d"];
const weight = fc.integer({ min: -100, max: 100 });
/** Random evaluations: every seat scores every other seat. */
const evaluations = fc
  .tuple(...seats.map(() => fc.array(weight, { minLength: 4, maxLength: 4 })))
  .map((rows) =>
    rows.map((row, i) =>
      ev(
        seats[i] as string,
        Object.fromEntries(seats.flatMap((s, j) => (j === i ? [] : [[s, row[j] as number]]))),
      ),
    ),
  );

describe("quadratic voting", () => {
  it("computes f, q, A and ns by the formulas", () => {
    // a: +60 to b, -20 to c → f = 0.75, -0.25; q = √0.75, -0.5. b: +100 to a. c: abstains (all zero).
    const t = tallyRound({
      candidates: ["a", "b", "c"],
      evaluations: [ev("a", { b: 60, c: -20 }), ev("b", { a: 100 }), ev("c", { a: 0, b: 0 })],
    });
    const vote = (i: string, j: string) =>
      t.votes.find((v) => v.evaluatorSeatId === i && v.candidateSeatId === j);
    expect(vote("a", "b")?.credit).toBeCloseTo(0.75);
    expect(vote("a", "b")?.vote).toBeCloseTo(Math.sqrt(0.75));
    expect(vote("a", "c")?.vote).toBeCloseTo(-0.5);
    expect(vote("b", "a")?.vote).toBeCloseTo(1);
    expect(t.votes.some((v) => v.evaluatorSeatId === "c")).toBe(false);
    expect(t.validEvaluators).toBe(2);
    const tally = (s: string) => t.tallies.find((x) => x.seatId === s);
    expect(tally("b")?.support).toBeCloseTo(Math.sqrt(0.75));
    expect(tally("b")?.evaluators).toBe(1);
    expect(tally("a")?.netSupport).toBeCloseTo(1);
    expect(tally("c")?.netSupport).toBeCloseTo(-0.5);
    expect(t.winnerSeatId).toBe("a");
    // conviction on positive mass = ns_a⁺ / Σ max(ns, 0) = 1 / (1 + 0.866); the brief's ns_a / Σ|ns| is kept.
    expect(t.conviction).toBeCloseTo(1 / (1 + Math.sqrt(0.75)));
    expect(t.signedConviction).toBeCloseTo(1 / (1 + Math.sqrt(0.75) + 0.5));
  });

  it("conviction: firmly rejected alternatives do not read as doubt about a clear winner", () => {
    // One endorsed answer among three the panel rejects: every evaluator backs `a` and votes the others down.
    const t = tallyRound({
      candidates: ["a", "b", "c", "d"],
      evaluations: [
        ev("a", { b: -80, c: -80, d: -80 }),
        ev("b", { a: 60, c: -80, d: -80 }),
        ev("c", { a: 60, b: -80, d: -80 }),
        ev("d", { a: 60, b: -80, c: -80 }),
      ],
    });
    expect(t.winnerSeatId).toBe("a");
    const ns = (s: string) => t.tallies.find((x) => x.seatId === s)?.netSupport ?? Number.NaN;
    expect(ns("a")).toBeGreaterThan(0);
    for (const s of ["b", "c", "d"]) expect(ns(s)).toBeLessThan(0);
    // The brief's ns_win / Σ|ns| counts the rejections against the winner: far below any sane threshold.
    expect(t.signedConviction).toBeLessThan(0.3);
    // Positive mass: all endorsement went to the winner.
    expect(t.conviction).toBeCloseTo(1);
    // A split endorsement still reads as doubt, and a winner nobody endorsed has none.
    const split = tallyRound({
      candidates: ["a", "b", "c"],
      evaluations: [ev("a", { b: 40, c: -80 }), ev("b", { a: 50, c: -80 }), ev("c", { a: 50, b: 40 })],
    });
    expect(split.conviction).toBeGreaterThan(0.4);
    expect(split.conviction).toBeLessThan(0.6);
    const nobody = tallyRound({
      candidates: ["a", "b"],
      evaluations: [ev("a", { b: -50 }), ev("b", { a: -50 })],
    });
    expect(nobody.conviction).toBe(0);
  });

  it("property: conviction is in [0, 1], never below the brief's, and 1 when only the winner is endorsed", () => {
    fc.assert(
      fc.property(evaluations, (evs) => {
        const t = tallyRound({ candidates: seats, evaluations: evs });
        expect(t.conviction).toBeGreaterThanOrEqual(0);
        expect(t.conviction).toBeLessThanOrEqual(1 + 1e-12);
        expect(t.signedConviction).toBeLessThanOrEqual(t.conviction + 1e-12);
        const positive = t.tallies.filter((x) => x.netSupport > 0);
        if (positive.length === 1 && positive[0]?.seatId === t.winnerSeatId) {
          expect(t.conviction).toBeCloseTo(1, 12);
        }
      }),
    );
  });

  it("abstains an evaluator whose weights sum to zero in absolute value", () => {
    expect(
      quadraticVotes([
        ["b", 0],
        ["c", 0],
      ]),
    ).toBeUndefined();
  });

  it("breaks ties by running mean, then cost, then seat id", () => {
    const base = { candidates: ["a", "b"], evaluations: [ev("x", { a: 50, b: 50 })] };
    expect(tallyRound(base).winnerSeatId).toBe("a");
    expect(tallyRound({ ...base, history: new Map([["b", { sum: 2, rounds: 1 }]]) }).winnerSeatId).toBe("b");
    expect(
      tallyRound({
        ...base,
        costs: new Map([
          ["a", 10],
          ["b", 5],
        ]),
      }).winnerSeatId,
    ).toBe("b");
  });

  it("pools net support of seats with the same answer for the conviction", () => {
    const t = tallyRound({
      candidates: ["a", "b", "c"],
      evaluations: [ev("a", { b: 50, c: 50 }), ev("b", { a: 50, c: 50 }), ev("c", { a: 50, b: 50 })],
      answerKeys: new Map([
        ["a", "85"],
        ["b", "85"],
        ["c", "85"],
      ]),
    });
    expect(t.conviction).toBeCloseTo(1);
    const unpooled = tallyRound({
      candidates: ["a", "b", "c"],
      evaluations: [ev("a", { b: 50, c: 50 }), ev("b", { a: 50, c: 50 }), ev("c", { a: 50, b: 50 })],
    });
    expect(unpooled.conviction).toBeCloseTo(1 / 3);
  });

  it("property: the absolute credits of every valid evaluator sum to 1", () => {
    fc.assert(
      fc.property(evaluations, (evs) => {
        const t = tallyRound({ candidates: seats, evaluations: evs });
        const byEvaluator = new Map<string, number>();
        for (const v of t.votes)
          byEvaluator.set(v.evaluatorSeatId, (byEvaluator.get(v.evaluatorSeatId) ?? 0) + Math.abs(v.credit));
        for (const sum of byEvaluator.values()) expect(sum).toBeCloseTo(1, 9);
        const nonZero = evs.filter((e) => [...e.weights.values()].some((w) => w !== 0)).length;
        expect(byEvaluator.size).toBe(nonZero);
        expect(t.validEvaluators).toBe(nonZero);
      }),
    );
  });

  it("property: an evaluator can never change its own proposal's score", () => {
    fc.assert(
      fc.property(
        evaluations,
        fc.integer({ min: 0, max: 3 }),
        fc.array(weight, { minLength: 4, maxLength: 4 }),
        (evs, i, newRow) => {
          const me = seats[i] as string;
          const before = tallyRound({ candidates: seats, evaluations: evs });
          // The evaluator rewrites all its weights, including one for itself (which must be ignored).
          const changed = evs.map((e) =>
            e.evaluatorSeatId === me
              ? ev(me, Object.fromEntries(seats.map((s, j) => [s, newRow[j] as number])))
              : e,
          );
          const after = tallyRound({ candidates: seats, evaluations: changed });
          const mine = (t: typeof before) => t.tallies.find((x) => x.seatId === me);
          expect(mine(after)?.support).toBeCloseTo(mine(before)?.support ?? Number.NaN, 12);
          expect(mine(after)?.netSupport).toBeCloseTo(mine(before)?.netSupport ?? Number.NaN, 12);
          expect(after.votes.some((v) => v.evaluatorSeatId === me && v.candidateSeatId === me)).toBe(false);
        },
      ),
    );
  });

  it("property: concentrating credit on a candidate buys it more vote than spreading it", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.array(weight, { minLength: 1, maxLength: 6 }).filter((ws) => ws.some((w) => w !== 0)),
        (favourite, others) => {
          const spread = quadraticVotes([["fav", favourite], ...others.map((w, k) => [`o${k}`, w] as const)]);
          const focused = quadraticVotes([
            ["fav", favourite],
            ...others.map((_, k) => [`o${k}`, 0] as const),
          ]);
          const q = (r: typeof spread) => r?.find((v) => v.candidateSeatId === "fav")?.vote ?? Number.NaN;
          expect(q(focused)).toBeCloseTo(1, 12);
          expect(q(focused)).toBeGreaterThan(q(spread));
        },
      ),
    );
  });

  it("property: a missing evaluator only removes its own votes and ns renormalises over the rest", () => {
    fc.assert(
      fc.property(evaluations, fc.integer({ min: 0, max: 3 }), (evs, k) => {
        const gone = seats[k] as string;
        const full = tallyRound({ candidates: seats, evaluations: evs });
        const without = tallyRound({
          candidates: seats,
          evaluations: evs.map((e) => (e.evaluatorSeatId === gone ? { ...e, valid: false } : e)),
        });
        for (const s of seats) {
          const f = full.tallies.find((t) => t.seatId === s);
          const w = without.tallies.find((t) => t.seatId === s);
          const missing = full.votes.find((v) => v.evaluatorSeatId === gone && v.candidateSeatId === s);
          expect(w?.support).toBeCloseTo((f?.support ?? 0) - (missing?.vote ?? 0), 9);
          expect(w?.evaluators).toBe((f?.evaluators ?? 0) - (missing !== undefined ? 1 : 0));
          const votes = without.votes.filter((v) => v.candidateSeatId === s);
          const mean = votes.length > 0 ? votes.reduce((a, v) => a + v.vote, 0) / votes.length : 0;
          expect(w?.netSupport).toBeCloseTo(mean, 9);
        }
      }),
    );
  });
});
