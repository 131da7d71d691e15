/** Turns `conclave submit` flags into a JobSpec, listing every problem at once. Pure. */
import { create } from "@bufbuild/protobuf";
import { type JobSpec, JobSpecSchema } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { parseDuration } from "../../../proto/src/config.js";
import { ConclaveError, ErrorCode } from "../../../proto/src/errors.js";
import { LIMITS } from "../../../proto/src/limits.js";
import { evaluationModeNames, strategyNames } from "../../../proto/src/names.js";

export interface SubmitFlags {
  strategy?: string;
  agents?: string;
  rounds?: string;
  minRounds?: string;
  temperature?: string;
  gamma?: string;
  evalMode?: string;
  domain?: string;
  maxTokens?: string;
  deadline?: string;
  computeBudget?: string;
  roundBudget?: string;
  system?: string;
  label?: string[];
}

function int(name: string, raw: string | undefined, min: number, max: number, problems: string[]): number {
  if (raw === undefined) return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    problems.push(`--${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
    return 0;
  }
  return n;
}

function num(
  name: string,
  raw: string | undefined,
  min: number,
  max: number,
  problems: string[],
): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    problems.push(`--${name} must be a number from ${min} to ${max}, got "${raw}"`);
    return undefined;
  }
  return n;
}

export function buildJobSpec(task: string, f: SubmitFlags): JobSpec {
  const problems: string[] = [];
  if (task.trim().length === 0)
    problems.push("the task is empty: pass it as an argument, --file F, or - for stdin");
  if (task.length > LIMITS.maxTaskChars)
    problems.push(`the task is ${task.length} characters; the limit is ${LIMITS.maxTaskChars}`);
  const strategy = strategyNames.parse(f.strategy ?? "nsed");
  if (strategy === undefined)
    problems.push(`--strategy "${f.strategy}" is not one of ${strategyNames.names.join(", ")}`);
  const evaluationMode = f.evalMode === undefined ? 0 : evaluationModeNames.parse(f.evalMode);
  if (evaluationMode === undefined)
    problems.push(`--eval-mode "${f.evalMode}" is not one of ${evaluationModeNames.names.join(", ")}`);
  const agents = int("agents", f.agents, 1, LIMITS.maxAgents, problems);
  const maxRounds = int("rounds", f.rounds, 1, LIMITS.maxRounds, problems);
  const minRounds = int("min-rounds", f.minRounds, 1, LIMITS.maxRounds, problems);
  if (minRounds > 0 && maxRounds > 0 && minRounds > maxRounds)
    problems.push(`--min-rounds ${minRounds} is more than --rounds ${maxRounds}`);
  const temperature = num("temperature", f.temperature, 0, 2, problems);
  const gamma = num("gamma", f.gamma, 0, 1, problems);
  const maxTokens = int("max-tokens", f.maxTokens, 1, LIMITS.maxTokensPerRequest, problems);
  let deadlineMs = 0;
  if (f.deadline !== undefined) {
    const d = parseDuration(f.deadline);
    if (d === undefined || d <= 0)
      problems.push(`--deadline must be a duration like 90s or 5m, got "${f.deadline}"`);
    else deadlineMs = d;
  }
  const computeSeconds = num("compute-budget", f.computeBudget, 0, 1e9, problems) ?? 0;
  const roundSeconds = num("round-budget", f.roundBudget, 0, 1e9, problems) ?? 0;
  const labels: Record<string, string> = {};
  for (const l of f.label ?? []) {
    const eq = l.indexOf("=");
    if (eq <= 0) problems.push(`--label must be key=value, got "${l}"`);
    else labels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  if (problems.length > 0) {
    throw new ConclaveError(ErrorCode.INVALID_ARGUMENT, problems.join("\n"), { details: problems });
  }
  return create(JobSpecSchema, {
    task,
    strategy: strategy ?? 0,
    domain: f.domain ?? "general",
    systemPrompt: f.system ?? "",
    labels,
    params: {
      agents,
      maxRounds,
      minRounds,
      evaluationMode: evaluationMode ?? 0,
      maxTokens,
      ...(temperature !== undefined ? { temperature } : {}),
      ...(gamma !== undefined ? { gamma } : {}),
    },
    budgets: { deadlineMs, computeSeconds, roundLatencySeconds: roundSeconds },
  });
}
