import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CONTEXT_FIT,
  completionCap,
  cutAnswer,
  fitItems,
  neededTokens,
  observedRatio,
  planMaxTokens,
  promptBudget,
  type SeatContext,
  TRUNCATED,
  truncateText,
} from "../../../coordinator/src/deliberation/context-fit.js";
import { fence } from "../../../coordinator/src/deliberation/fence.js";
import { estimateTokens } from "../../../coordinator/src/deliberation/token-counter.js";
import { fencedBlocks } from "./support/scripted.js";

const ctx = (contextLength: number | undefined, ratio = 1): SeatContext => ({
  contextLength,
  format: "chat",
  ratio,
});

describe("context budget", () => {
  it("caps completions at half the context and leaves the prompt the rest, less template and margin", () => {
    expect(completionCap(ctx(512), 1024)).toBe(256);
    expect(completionCap(ctx(512), 100)).toBe(100);
    expect(completionCap(ctx(undefined), 1024)).toBe(1024);
    expect(completionCap(ctx(0), 1024)).toBe(1024);
    // (512 − 256 − 48) / 1.25 = 166.4
    expect(promptBudget(ctx(512), 256)).toBe(166);
    // A worker spending 2.5 real tokens per estimated token gets 2.5× less room.
    expect(promptBudget(ctx(512, 2.5), 256)).toBe(66);
    expect(promptBudget(ctx(undefined), 256)).toBe(Number.POSITIVE_INFINITY);
  });

  it("shrinks the completion (down to its floor) before refusing a prompt", () => {
    expect(planMaxTokens(ctx(512), 1024, 100)).toBe(256);
    // 300 estimated tokens need 48 + 375 = 423; 89 are left for the answer.
    expect(planMaxTokens(ctx(512), 1024, 300)).toBe(89);
    // A floor it cannot keep: refused.
    expect(planMaxTokens(ctx(512), 1024, 340)).toBeUndefined();
    expect(planMaxTokens(ctx(512), 1024, 300, 100)).toBeUndefined();
    expect(planMaxTokens(ctx(undefined), 1024, 1e6)).toBe(1024);
  });

  it("property: a planned call always fits, and planning it again changes nothing", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 64, max: 32_768 }),
        fc.double({ min: 1, max: 8, noNaN: true }),
        fc.integer({ min: 1, max: 4096 }),
        fc.integer({ min: 0, max: 20_000 }),
        (length, ratio, wanted, prompt) => {
          const c = ctx(length, ratio);
          const m = planMaxTokens(c, wanted, prompt);
          if (m === undefined) return;
          expect(m).toBeGreaterThanOrEqual(1);
          expect(m).toBeLessThanOrEqual(Math.min(wanted, length * CONTEXT_FIT.completionShare));
          expect(prompt).toBeLessThanOrEqual(promptBudget(c, m));
          expect(neededTokens(c, prompt) + m).toBeLessThanOrEqual(length);
          expect(planMaxTokens(c, m, prompt, m)).toBe(m);
        },
      ),
    );
  });

  it("learns a ratio of at least 1 from what the worker counted", () => {
    // stories260K: a proposal prompt of 78 estimated tokens took 240 real ones (Llama2Chat template included).
    expect(observedRatio("chat", 240, 78)).toBeCloseTo((240 - 48) / 78);
    expect(observedRatio("chat", 20, 78)).toBe(1);
    expect(observedRatio("chat", 0, 78)).toBe(1);
    expect(observedRatio("raw", 1e6, 1)).toBe(CONTEXT_FIT.maxRatio);
  });
});

describe("cutting peer texts", () => {
  it("marks every cut and keeps short texts whole", () => {
    expect(truncateText("85", 10)).toBe("85");
    expect(truncateText("a long answer indeed", 6)).toBe(`a long … ${TRUNCATED}`);
    expect(truncateText("anything", 0)).toBe(TRUNCATED);
  });

  it("cuts the rationale before the answer", () => {
    const c = { alias: "Candidate A", answer: "x".repeat(50), rationale: "y".repeat(50) };
    expect(cutAnswer(c, 100)).toBe(c);
    const r = cutAnswer(c, 70);
    expect(r.answer).toBe(c.answer);
    expect(r.rationale).toBe(`${"y".repeat(20)} … ${TRUNCATED}`);
    const a = cutAnswer(c, 30);
    expect(a.answer).toBe(`${"x".repeat(30)} … ${TRUNCATED}`);
    expect(a.rationale).toBe(TRUNCATED);
    expect(a.alias).toBe("Candidate A");
  });

  it("gives long texts a common cap, so a short exact answer is never cut", () => {
    const texts = ["85", "x".repeat(2000), "y".repeat(600)];
    const render = (xs: readonly string[]) =>
      xs.map((t, i) => fence(`Candidate ${i}`, t, "abc123")).join("\n");
    const fitted = fitItems({
      items: texts,
      size: (t) => t.length,
      cut: truncateText,
      fits: (xs) => estimateTokens(render(xs)) <= 300,
    });
    expect(fitted).toBeDefined();
    expect(fitted?.[0]).toBe("85");
    expect(fitted?.[1]).toContain(TRUNCATED);
    expect(fitted?.[2]).toContain(TRUNCATED);
    expect(Math.abs((fitted?.[1]?.length ?? 0) - (fitted?.[2]?.length ?? 0))).toBeLessThanOrEqual(1);
    expect(estimateTokens(render(fitted ?? []))).toBeLessThanOrEqual(300);
    // Nothing fits at the minimum cap: refused rather than cut to nothing.
    expect(
      fitItems({
        items: texts,
        size: (t) => t.length,
        cut: truncateText,
        fits: (xs) => render(xs).length < 50,
      }),
    ).toBeUndefined();
  });

  it("property: the fitted texts fit, keep their fences and say where they were cut", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 3000 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 50, max: 2000 }),
        (texts, budget) => {
          const render = (xs: readonly string[]) =>
            xs.map((t, i) => fence(`Candidate ${i}`, t, "0123456789ab")).join("\n\n");
          const fits = (xs: readonly string[]) => estimateTokens(render(xs)) <= budget;
          const fitted = fitItems({ items: texts, size: (t) => t.length, cut: truncateText, fits });
          if (fitted === undefined) {
            expect(fits(texts.map((t) => truncateText(t, CONTEXT_FIT.minTextChars)))).toBe(false);
            return;
          }
          expect(fits(fitted)).toBe(true);
          expect(fencedBlocks(render(fitted))).toHaveLength(texts.length);
          fitted.forEach((t, i) => {
            const original = texts[i] ?? "";
            if (t !== original) {
              expect(t.endsWith(TRUNCATED)).toBe(true);
              expect(original.length).toBeGreaterThan(CONTEXT_FIT.minTextChars);
            }
          });
        },
      ),
      { numRuns: 80 },
    );
  });
});
