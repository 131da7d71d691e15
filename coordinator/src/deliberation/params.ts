/**
 * Strategy parameters: the documented defaults, the resolved configuration a job runs with, and the spec
 * validation (every problem at once). Pure.
 *
 * Defaults (a JobSpec field left 0 / unset takes these):
 *
 * | strategy     | agents | rounds (min/max) | temperature | other |
 * |--------------|--------|------------------|-------------|-------|
 * | nsed         | 4      | 2 / 6            | 0.7         | γ 0.5, threshold 0.6, state budget 1500 tokens |
 * | single       | 1      | 1 / 1            | 0           | |
 * | majority     | 5      | 1 / 1            | 0.7         | |
 * | moa          | 3      | layers 2         | 0.7         | + 1 aggregator (temperature 0) |
 * | self-moa     | 4      | 1 / 1            | 0.7         | samples of one model + 1 aggregator |
 * | self-moa-seq | window | max 3 steps      | 0.7         | window 3 fresh samples per step + aggregator |
 * | debate       | 3      | max 3            | 0.7         | final majority vote |
 * | council      | 3      | 1 ranking round  | 0.7         | + 1 chairman (temperature 0) |
 *
 * Evaluators and aggregators always sample at temperature 0 (judging should be repeatable). Max tokens per
 * proposal: `max_tokens`, else 256 / 512 / 1024 for effort 1 / 2 / 3 (default 2), capped by each seat's
 * profile hint and, when its profile knows its context length, by that context (context-fit.ts: at most
 * half of it, less when the prompt needs the room). The state token budget is likewise an upper bound: a
 * seat with a small context gets a smaller view. The NSED paper saw accuracy peak around round 5–6 ("deliberation fatigue"), hence max 6.
 */
import { EvaluationMode, type JobSpec, Strategy } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { estimateTokens } from "./token-counter.js";

export const STRATEGY_NAMES: Readonly<Record<Strategy, string>> = {
  [Strategy.UNSPECIFIED]: "unspecified",
  [Strategy.NSED]: "nsed",
  [Strategy.SINGLE]: "single",
  [Strategy.MAJORITY]: "majority",
  [Strategy.MOA]: "moa",
  [Strategy.SELF_MOA]: "self-moa",
  [Strategy.SELF_MOA_SEQ]: "self-moa-seq",
  [Strategy.DEBATE]: "debate",
  [Strategy.COUNCIL]: "council",
};

/** Limits that keep a job within what a home lab can run. */
export const LIMITS = {
  maxAgents: 16,
  maxRounds: 20,
  maxLayers: 6,
  maxWindow: 16,
  maxTokens: 32_768,
  maxTaskChars: 200_000,
  minStateTokenBudget: 64,
  maxStateTokenBudget: 32_768,
} as const;

/** The configuration a job runs with, every default applied. */
export interface ResolvedParams {
  strategy: Strategy;
  agents: number;
  minRounds: number;
  maxRounds: number;
  temperature: number;
  /** Temperature of evaluators, aggregators and chairmen. */
  judgeTemperature: number;
  gamma: number;
  /** Forget-gate threshold: rounds weighing less are forgotten. */
  dropBelow: number;
  effort: number;
  evaluationMode: EvaluationMode;
  convergenceThreshold: number;
  layers: number;
  window: number;
  /** Completion tokens per proposal / aggregation. */
  maxTokens: number;
  /** Completion tokens per batch evaluation. */
  evaluationMaxTokens: number;
  stateTokenBudget: number;
  /** Largest share of the state budget older-round summaries may take. */
  historyShare: number;
}

const EFFORT_TOKENS = [512, 256, 512, 1024] as const;

function orDefault(v: number, d: number): number {
  return v > 0 ? v : d;
}

export function resolveParams(spec: JobSpec): ResolvedParams {
  const p = spec.params;
  const s = spec.strategy;
  const effort = orDefault(p?.effort ?? 0, 2);
  const defaultAgents: Partial<Record<Strategy, number>> = {
    [Strategy.NSED]: 4,
    [Strategy.SINGLE]: 1,
    [Strategy.MAJORITY]: 5,
    [Strategy.MOA]: 3,
    [Strategy.SELF_MOA]: 4,
    [Strategy.DEBATE]: 3,
    [Strategy.COUNCIL]: 3,
  };
  const window = orDefault(p?.window ?? 0, 3);
  const agents = s === Strategy.SELF_MOA_SEQ ? window : orDefault(p?.agents ?? 0, defaultAgents[s] ?? 3);
  const roundsFor: Partial<Record<Strategy, [number, number]>> = {
    [Strategy.NSED]: [2, 6],
    [Strategy.DEBATE]: [1, 3],
    [Strategy.SELF_MOA_SEQ]: [1, 3],
  };
  const [minDefault, maxDefault] = roundsFor[s] ?? [1, 1];
  const maxRounds = orDefault(p?.maxRounds ?? 0, Math.max(maxDefault, p?.minRounds ?? 0));
  const minRounds = Math.min(orDefault(p?.minRounds ?? 0, minDefault), maxRounds);
  const maxTokens = orDefault(p?.maxTokens ?? 0, EFFORT_TOKENS[Math.min(3, effort)] ?? 512);
  return {
    strategy: s,
    agents,
    minRounds,
    maxRounds,
    temperature: p?.temperature ?? (s === Strategy.SINGLE ? 0 : 0.7),
    judgeTemperature: 0,
    gamma: p?.gamma ?? 0.5,
    dropBelow: 0.1,
    effort,
    evaluationMode: p?.evaluationMode ?? EvaluationMode.UNSPECIFIED,
    convergenceThreshold: p?.convergenceThreshold ?? 0.6,
    layers: orDefault(p?.layers ?? 0, 2),
    window,
    maxTokens,
    evaluationMaxTokens: 1024,
    stateTokenBudget: orDefault(p?.stateTokenBudget ?? 0, 1500),
    historyShare: 0.15,
  };
}

function checkRange(
  problems: string[],
  name: string,
  v: number | undefined,
  lo: number,
  hi: number,
  opts: { zeroMeansDefault?: boolean } = {},
): void {
  if (v === undefined) return;
  if (opts.zeroMeansDefault && v === 0) return;
  if (!Number.isFinite(v) || v < lo || v > hi)
    problems.push(`${name} must be between ${lo} and ${hi} (got ${v})`);
}

/** Every problem with a job spec, as plain sentences; empty when the spec is runnable. */
export function validateJobSpec(spec: JobSpec): string[] {
  const problems: string[] = [];
  if (spec.task.trim() === "") problems.push("task is empty");
  if (spec.task.length > LIMITS.maxTaskChars) {
    problems.push(`task is ${spec.task.length} characters; at most ${LIMITS.maxTaskChars} allowed`);
  }
  if (spec.strategy === Strategy.UNSPECIFIED) problems.push("strategy is not set");
  else if (STRATEGY_NAMES[spec.strategy] === undefined) problems.push(`strategy ${spec.strategy} is unknown`);
  const p = spec.params;
  if (p !== undefined) {
    const minAgents = spec.strategy === Strategy.SINGLE ? 1 : 2;
    checkRange(problems, "params.agents", p.agents, minAgents, LIMITS.maxAgents, { zeroMeansDefault: true });
    checkRange(problems, "params.min_rounds", p.minRounds, 1, LIMITS.maxRounds, { zeroMeansDefault: true });
    checkRange(problems, "params.max_rounds", p.maxRounds, 1, LIMITS.maxRounds, { zeroMeansDefault: true });
    if (p.minRounds > 0 && p.maxRounds > 0 && p.minRounds > p.maxRounds) {
      problems.push(`params.min_rounds (${p.minRounds}) is greater than params.max_rounds (${p.maxRounds})`);
    }
    checkRange(problems, "params.temperature", p.temperature, 0, 2);
    if (p.gamma !== undefined && !(p.gamma > 0 && p.gamma <= 1)) {
      problems.push(`params.gamma must be in (0, 1] (got ${p.gamma})`);
    }
    checkRange(problems, "params.effort", p.effort, 1, 3, { zeroMeansDefault: true });
    if (EvaluationMode[p.evaluationMode] === undefined) {
      problems.push(`params.evaluation_mode ${p.evaluationMode} is unknown`);
    }
    if (
      p.convergenceThreshold !== undefined &&
      !(p.convergenceThreshold > 0 && p.convergenceThreshold <= 1)
    ) {
      problems.push(`params.convergence_threshold must be in (0, 1] (got ${p.convergenceThreshold})`);
    }
    checkRange(problems, "params.layers", p.layers, 1, LIMITS.maxLayers, { zeroMeansDefault: true });
    checkRange(problems, "params.window", p.window, 1, LIMITS.maxWindow, { zeroMeansDefault: true });
    checkRange(problems, "params.max_tokens", p.maxTokens, 1, LIMITS.maxTokens, { zeroMeansDefault: true });
    checkRange(
      problems,
      "params.state_token_budget",
      p.stateTokenBudget,
      LIMITS.minStateTokenBudget,
      LIMITS.maxStateTokenBudget,
      { zeroMeansDefault: true },
    );
  }
  if (spec.strategy === Strategy.NSED && spec.task.trim() !== "") {
    const budget = resolveParams(spec).stateTokenBudget;
    const taskTokens = estimateTokens(spec.task);
    if (taskTokens > budget) {
      problems.push(
        `task is ~${taskTokens} tokens, more than the state token budget (${budget}); raise params.state_token_budget`,
      );
    }
  }
  const b = spec.budgets;
  if (b !== undefined) {
    for (const [name, v] of [
      ["budgets.round_latency_seconds", b.roundLatencySeconds],
      ["budgets.compute_seconds", b.computeSeconds],
      ["budgets.energy_joules", b.energyJoules],
    ] as const) {
      if (!Number.isFinite(v) || v < 0) problems.push(`${name} must be a non-negative number (got ${v})`);
    }
  }
  return problems;
}
