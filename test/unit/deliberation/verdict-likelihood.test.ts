import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { likelihoodWeights } from "../../../coordinator/src/deliberation/likelihood-weight.js";
import {
  DEFAULT_CHAT_VERDICTS,
  mapVerdict,
  verdictTokenBound,
} from "../../../coordinator/src/deliberation/verdict.js";

describe("verdict mapping", () => {
  const arith = { Y: 100, N: -100 };
  it("maps raw verdict words through the profile's map", () => {
    expect(mapVerdict("Y", arith)).toBe(100);
    expect(mapVerdict(" N\n", arith)).toBe(-100);
    expect(mapVerdict("y.", arith)).toBe(100);
    expect(mapVerdict("85", arith)).toBeUndefined();
    expect(mapVerdict("", arith)).toBeUndefined();
  });
  it("maps a chat model's JSON verdict", () => {
    expect(mapVerdict('{"verdict": "no"}', DEFAULT_CHAT_VERDICTS)).toBe(-100);
    expect(mapVerdict('{"verdict": "maybe"}', DEFAULT_CHAT_VERDICTS)).toBeUndefined();
  });
  it("keeps a case-sensitive map exact", () => {
    expect(mapVerdict("y", { Y: 100, y: 50 })).toBe(50);
  });
  it("accepts a JSON verdict cut off after a closed value, and never guesses an unclosed one", () => {
    // What stories260K wrote with 16 completion tokens: the value is complete, the closing brace is not.
    expect(mapVerdict('{ "verdict": "yes"', DEFAULT_CHAT_VERDICTS)).toBe(100);
    expect(mapVerdict('{\n    "verdict": "no",\n    "x', DEFAULT_CHAT_VERDICTS)).toBe(-100);
    expect(mapVerdict('{"verdict":"unsure" ', DEFAULT_CHAT_VERDICTS)).toBe(0);
    expect(mapVerdict('{ "verdict": "ye', DEFAULT_CHAT_VERDICTS)).toBeUndefined();
    expect(mapVerdict('{ "verdict": "', DEFAULT_CHAT_VERDICTS)).toBeUndefined();
    expect(mapVerdict('{ "verdict": "maybe"', DEFAULT_CHAT_VERDICTS)).toBeUndefined();
    expect(mapVerdict('{ "reason": "yes"', DEFAULT_CHAT_VERDICTS)).toBeUndefined();
    expect(mapVerdict('{ "verdict": "y\\"es"', DEFAULT_CHAT_VERDICTS)).toBeUndefined();
  });
  it("bounds a chat verdict's tokens by the longest reply its schema allows", () => {
    // Every token is at least a byte: the bound must hold the longest reply byte for byte.
    const longest = '{ "verdict": "unsure" }';
    expect(verdictTokenBound(DEFAULT_CHAT_VERDICTS)).toBeGreaterThanOrEqual(longest.length + 1);
    // Measured on stories260K (512-token vocabulary): 18 tokens, more than the old cap of 16.
    expect(verdictTokenBound(DEFAULT_CHAT_VERDICTS)).toBeGreaterThan(18);
    expect(verdictTokenBound({ "much longer verdict word": 1 })).toBeGreaterThan(
      verdictTokenBound(DEFAULT_CHAT_VERDICTS),
    );
  });
});

describe("likelihood → weight", () => {
  it("gives the most likely candidate 100 and the others their likelihood ratio", () => {
    const w = likelihoodWeights(
      [
        { totalLogprob: Math.log(0.5), tokenCount: 3 },
        { totalLogprob: Math.log(0.05), tokenCount: 3 },
        undefined,
        { totalLogprob: Number.NaN, tokenCount: 3 },
      ],
      "total",
    );
    expect(w[0]).toBeCloseTo(100);
    expect(w[1]).toBeCloseTo(10);
    expect(w[2]).toBeUndefined();
    expect(w[3]).toBeUndefined();
  });

  it("uses the per-token mean on the mean basis (long answers are not punished for length)", () => {
    const w = likelihoodWeights(
      [
        { totalLogprob: -10, tokenCount: 100 },
        { totalLogprob: -2, tokenCount: 2 },
      ],
      "mean",
    );
    expect(w[0]).toBeCloseTo(100);
    expect(w[1]).toBeLessThan(100);
  });

  it("property: weights are in (0, 100] and ordered like the likelihoods", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -50, max: 0, noNaN: true }), { minLength: 1, maxLength: 8 }),
        (lps) => {
          const w = likelihoodWeights(
            lps.map((l) => ({ totalLogprob: l, tokenCount: 2 })),
            "total",
          ) as number[];
          for (const x of w) {
            expect(x).toBeGreaterThanOrEqual(0);
            expect(x).toBeLessThanOrEqual(100);
          }
          expect(Math.max(...w)).toBeCloseTo(100);
          lps.forEach((a, i) => {
            lps.forEach((b, j) => {
              if (a > b) expect(w[i]).toBeGreaterThanOrEqual(w[j] as number);
            });
          });
        },
      ),
    );
  });
});
