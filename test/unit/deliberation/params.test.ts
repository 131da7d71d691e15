import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { resolveParams, validateJobSpec } from "../../../coordinator/src/deliberation/params.js";
import {
  EvaluationMode,
  JobSpecSchema,
  Strategy,
  StrategyParamsSchema,
} from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { BudgetsSchema } from "../../../proto/gen/conclave/v1/plan_pb.js";

describe("job spec", () => {
  it("accepts a minimal spec and applies documented defaults", () => {
    const spec = create(JobSpecSchema, { task: "2+2?", strategy: Strategy.NSED });
    expect(validateJobSpec(spec)).toEqual([]);
    const p = resolveParams(spec);
    expect(p).toMatchObject({
      agents: 4,
      minRounds: 2,
      maxRounds: 6,
      gamma: 0.5,
      convergenceThreshold: 0.6,
      stateTokenBudget: 1500,
    });
    expect(resolveParams(create(JobSpecSchema, { task: "x", strategy: Strategy.MOA }))).toMatchObject({
      agents: 3,
      layers: 2,
      temperature: 0.7,
    });
    expect(resolveParams(create(JobSpecSchema, { task: "x", strategy: Strategy.SINGLE })).temperature).toBe(
      0,
    );
  });

  it("lists every problem at once", () => {
    const spec = create(JobSpecSchema, {
      task: " ",
      strategy: Strategy.UNSPECIFIED,
      params: create(StrategyParamsSchema, {
        agents: 1,
        minRounds: 5,
        maxRounds: 3,
        temperature: 3,
        gamma: 0,
        effort: 9,
        evaluationMode: 42 as EvaluationMode,
        convergenceThreshold: 1.5,
        stateTokenBudget: 10,
      }),
      budgets: create(BudgetsSchema, { computeSeconds: -1 }),
    });
    const problems = validateJobSpec(spec);
    for (const re of [
      /task is empty/,
      /strategy is not set/,
      /params\.agents/,
      /min_rounds \(5\) is greater than params\.max_rounds \(3\)/,
      /params\.temperature/,
      /params\.gamma/,
      /params\.effort/,
      /evaluation_mode 42/,
      /convergence_threshold/,
      /state_token_budget/,
      /budgets\.compute_seconds/,
    ]) {
      expect(
        problems.some((p) => re.test(p)),
        `${re}`,
      ).toBe(true);
    }
  });

  it("rejects an NSED task larger than the state budget", () => {
    const spec = create(JobSpecSchema, {
      task: "x".repeat(4 * 200),
      strategy: Strategy.NSED,
      params: create(StrategyParamsSchema, { stateTokenBudget: 100, evaluationMode: EvaluationMode.BATCH }),
    });
    expect(validateJobSpec(spec).join()).toMatch(/more than the state token budget/);
  });
});
