/**
 * `POST /v1/chat/completions` bodies as Conclave job specs. The model picks the strategy; `temperature` and
 * `max_tokens` / `max_completion_tokens` map onto StrategyParams; a non-standard `conclave` object tunes
 * the ensemble. Fields OpenAI clients send that an ensemble cannot honour (top_p, seed, tools, user, …) are
 * ignored rather than refused, so stock clients work; anything that would change the response's shape
 * (`n` > 1) or that we cannot read is refused with every problem listed at once. Pure.
 */
import { create } from "@bufbuild/protobuf";
import { type JobSpec, JobSpecSchema, Strategy } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { evaluationModeNames } from "../../../proto/src/names.js";
import { estimateTokens, LIMITS, resolveParams, validateJobSpec } from "../deliberation/index.js";
import { DOMAINS } from "../profiles/index.js";
import { conversationTask, type FieldProblem } from "./conversation-task.js";
import { HttpError } from "./http-errors.js";
import { modelIdOf, modelIds, strategyOfModelId } from "./model-ids.js";

/** Label on every job submitted through this endpoint (so `conclave jobs` can tell where it came from). */
export const SOURCE_LABEL = "conclave.source";
export const SOURCE_VALUE = "openai-http";

/** A validated chat completion request. */
export interface ChatCompletionRequest {
  /** The canonical id of the requested model (`conclave`, `conclave-moa`, …), echoed in responses. */
  modelId: string;
  strategy: Strategy;
  stream: boolean;
  /** `stream_options.include_usage`: send a last chunk with usage before `[DONE]`. */
  includeUsage: boolean;
  spec: JobSpec;
  /** Earlier turns left out of the task for its length bound. */
  omittedTurns: number;
}

const CONCLAVE_FIELDS = ["agents", "rounds", "eval_mode", "domain"] as const;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function absent(v: unknown): boolean {
  return v === undefined || v === null;
}

function integerField(
  body: Record<string, unknown>,
  key: string,
  param: string,
  min: number,
  max: number,
  problems: FieldProblem[],
): number | undefined {
  const v = body[key];
  if (absent(v)) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    problems.push({
      param,
      message: `${param} must be a whole number from ${min} to ${max} (got ${JSON.stringify(v)?.slice(0, 40)})`,
    });
    return undefined;
  }
  return v;
}

function booleanField(
  body: Record<string, unknown>,
  key: string,
  param: string,
  problems: FieldProblem[],
): boolean {
  const v = body[key];
  if (absent(v)) return false;
  if (typeof v !== "boolean") {
    problems.push({ param, message: `${param} must be true or false` });
    return false;
  }
  return v;
}

interface ConclaveOptions {
  agents?: number;
  rounds?: number;
  evaluationMode?: number;
  domain?: string;
}

function conclaveOptions(raw: unknown, problems: FieldProblem[]): ConclaveOptions {
  if (absent(raw)) return {};
  if (!isRecord(raw)) {
    problems.push({
      param: "conclave",
      message: `conclave must be an object with ${CONCLAVE_FIELDS.join(", ")}`,
    });
    return {};
  }
  for (const key of Object.keys(raw)) {
    if (!(CONCLAVE_FIELDS as readonly string[]).includes(key)) {
      problems.push({
        param: `conclave.${key.slice(0, 40)}`,
        message: `conclave.${key.slice(0, 40)} is not an option; the options are ${CONCLAVE_FIELDS.join(", ")}`,
      });
    }
  }
  const out: ConclaveOptions = {};
  const agents = integerField(raw, "agents", "conclave.agents", 1, LIMITS.maxAgents, problems);
  if (agents !== undefined) out.agents = agents;
  const rounds = integerField(raw, "rounds", "conclave.rounds", 1, LIMITS.maxRounds, problems);
  if (rounds !== undefined) out.rounds = rounds;
  if (!absent(raw.eval_mode)) {
    const mode = typeof raw.eval_mode === "string" ? evaluationModeNames.parse(raw.eval_mode) : undefined;
    if (mode === undefined) {
      problems.push({
        param: "conclave.eval_mode",
        message: `conclave.eval_mode must be one of ${evaluationModeNames.names.join(", ")}`,
      });
    } else out.evaluationMode = mode;
  }
  if (!absent(raw.domain)) {
    const domain = typeof raw.domain === "string" ? raw.domain.trim().toLowerCase() : "";
    if (!(DOMAINS as readonly string[]).includes(domain)) {
      problems.push({
        param: "conclave.domain",
        message: `conclave.domain must be one of ${DOMAINS.join(", ")}`,
      });
    } else out.domain = domain;
  }
  return out;
}

function temperatureOf(body: Record<string, unknown>, problems: FieldProblem[]): number | undefined {
  const t = body.temperature;
  if (absent(t)) return undefined;
  if (typeof t !== "number" || !Number.isFinite(t) || t < 0 || t > 2) {
    problems.push({ param: "temperature", message: "temperature must be a number from 0 to 2" });
    return undefined;
  }
  return t;
}

/**
 * NSED refuses a task larger than an agent's state view budget. A chat (instructions, history, a pasted
 * document) easily is, so the budget is raised for this job to twice the task — room for the winner and
 * the critiques next to it — instead of refusing a request the user cannot tune from a chat client.
 */
function stateTokenBudgetFor(spec: JobSpec): number {
  if (spec.strategy !== Strategy.NSED) return 0;
  const current = resolveParams(spec).stateTokenBudget;
  const needed = estimateTokens(spec.task) * 2;
  return needed > current ? Math.min(LIMITS.maxStateTokenBudget, needed) : 0;
}

const SPEC_TO_REQUEST: ReadonlyArray<[string, string]> = [
  ["params.agents", "conclave.agents"],
  ["params.max_rounds", "conclave.rounds"],
  ["params.max_tokens", "max_tokens"],
  ["params.temperature", "temperature"],
  ["params.evaluation_mode", "conclave.eval_mode"],
];

/** A job spec problem in the request's own field names. */
function inRequestTerms(problem: string): string {
  let out = problem;
  for (const [from, to] of SPEC_TO_REQUEST) out = out.replaceAll(from, to);
  return out;
}

/**
 * Validates a parsed request body. Throws HttpError: 404 `model_not_found` (listing the valid ids) for an
 * unknown model, 400 `invalid_request` listing every other problem.
 */
export function parseChatRequest(body: unknown): ChatCompletionRequest {
  if (!isRecord(body)) {
    throw new HttpError(400, "invalid_request", "the request body must be a JSON object");
  }
  const problems: FieldProblem[] = [];
  let strategy: Strategy | undefined;
  if (typeof body.model !== "string" || body.model.trim() === "") {
    problems.push({ param: "model", message: `model is required; one of ${modelIds().join(", ")}` });
  } else {
    strategy = strategyOfModelId(body.model);
    if (strategy === undefined) {
      throw new HttpError(
        404,
        "model_not_found",
        `the model "${body.model.slice(0, 100)}" does not exist; the models are ${modelIds().join(", ")}`,
        { param: "model" },
      );
    }
  }
  const conversation = conversationTask(body.messages);
  if (!conversation.ok) problems.push(...conversation.problems);
  const stream = booleanField(body, "stream", "stream", problems);
  let includeUsage = false;
  if (!absent(body.stream_options)) {
    if (!isRecord(body.stream_options)) {
      problems.push({ param: "stream_options", message: "stream_options must be an object" });
    } else {
      includeUsage = booleanField(
        body.stream_options,
        "include_usage",
        "stream_options.include_usage",
        problems,
      );
    }
  }
  const n = integerField(body, "n", "n", 1, Number.MAX_SAFE_INTEGER, problems);
  if (n !== undefined && n !== 1) {
    problems.push({ param: "n", message: "n must be 1: the ensemble deliberates to one answer" });
  }
  const temperature = temperatureOf(body, problems);
  const maxTokens = integerField(body, "max_tokens", "max_tokens", 1, LIMITS.maxTokens, problems);
  const maxCompletionTokens = integerField(
    body,
    "max_completion_tokens",
    "max_completion_tokens",
    1,
    LIMITS.maxTokens,
    problems,
  );
  const options = conclaveOptions(body.conclave, problems);
  if (problems.length > 0 || strategy === undefined || !conversation.ok) {
    throw new HttpError(400, "invalid_request", problems.map((p) => p.message).join("; "), {
      ...(problems[0] ? { param: problems[0].param } : {}),
    });
  }
  const spec = create(JobSpecSchema, {
    task: conversation.task,
    strategy,
    domain: options.domain ?? "general",
    labels: { [SOURCE_LABEL]: SOURCE_VALUE },
    params: {
      agents: options.agents ?? 0,
      maxRounds: options.rounds ?? 0,
      evaluationMode: options.evaluationMode ?? 0,
      // max_completion_tokens is OpenAI's newer name; it wins when a client sends both.
      maxTokens: maxCompletionTokens ?? maxTokens ?? 0,
      ...(temperature !== undefined ? { temperature } : {}),
    },
  });
  const budget = stateTokenBudgetFor(spec);
  if (budget > 0 && spec.params) spec.params.stateTokenBudget = budget;
  // The job manager validates again; checking here names the fields as this client sent them.
  const specProblems = validateJobSpec(spec).map(inRequestTerms);
  if (specProblems.length > 0) {
    const first = /^([a-z_.]+) /.exec(specProblems[0] ?? "")?.[1];
    const field = SPEC_TO_REQUEST.some(([, to]) => to === first) ? first : undefined;
    throw new HttpError(400, "invalid_request", specProblems.join("; "), field ? { param: field } : {});
  }
  return {
    modelId: modelIdOf(strategy),
    strategy,
    stream,
    includeUsage: stream && includeUsage,
    spec,
    omittedTurns: conversation.omittedTurns,
  };
}
