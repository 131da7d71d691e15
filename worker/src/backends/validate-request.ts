/**
 * Request validation shared by both backends. Pure; lists every problem at once so a caller fixes a bad
 * request in one round trip. `assert*` throws the BackendError `bad_request` carrying them.
 */
import { BackendError } from "./errors.js";
import { checkJsonSchema } from "./json-output.js";
import type { GenerateRequest, PromptInput, SamplingParams, ScoreRequest } from "./types.js";

const ROLES = new Set(["system", "user", "assistant"]);

/** Upper bound on maxTokens, to catch unit mistakes (bytes for tokens) early. */
export const MAX_TOKENS_LIMIT = 1_000_000;

function validateInput(req: PromptInput): string[] {
  const problems: string[] = [];
  const hasMessages = req.messages !== undefined;
  const hasPrompt = req.prompt !== undefined;
  if (hasMessages === hasPrompt) {
    problems.push("give exactly one of messages (chat) or prompt (raw completion)");
    return problems;
  }
  if (hasPrompt) {
    if (typeof req.prompt !== "string") problems.push("prompt must be a string");
    else if (req.prompt.length === 0) problems.push("prompt must not be empty");
    return problems;
  }
  const messages = req.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    problems.push("messages must be a non-empty array");
    return problems;
  }
  messages.forEach((m, i) => {
    if (!ROLES.has(m?.role)) problems.push(`messages[${i}].role must be system, user or assistant`);
    if (typeof m?.content !== "string") problems.push(`messages[${i}].content must be a string`);
  });
  return problems;
}

function validateSampling(s: SamplingParams | undefined): string[] {
  if (s === undefined) return [];
  const problems: string[] = [];
  const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
  if (s.temperature !== undefined && !(finite(s.temperature) && s.temperature >= 0)) {
    problems.push("sampling.temperature must be a number ≥ 0");
  }
  if (s.topP !== undefined && !(finite(s.topP) && s.topP > 0 && s.topP <= 1)) {
    problems.push("sampling.topP must be in (0, 1]");
  }
  if (s.topK !== undefined && !(Number.isSafeInteger(s.topK) && s.topK >= 0)) {
    problems.push("sampling.topK must be an integer ≥ 0");
  }
  if (s.seed !== undefined && !(Number.isSafeInteger(s.seed) && s.seed >= 0)) {
    problems.push("sampling.seed must be an integer ≥ 0");
  }
  if (s.repeatPenalty !== undefined && !(finite(s.repeatPenalty) && s.repeatPenalty > 0)) {
    problems.push("sampling.repeatPenalty must be a number > 0");
  }
  if (s.stop !== undefined) {
    if (!Array.isArray(s.stop)) problems.push("sampling.stop must be an array of strings");
    else {
      s.stop.forEach((stop, i) => {
        if (typeof stop !== "string" || stop.length === 0) {
          problems.push(`sampling.stop[${i}] must be a non-empty string`);
        }
      });
    }
  }
  return problems;
}

function validateDeadline(deadline: number | undefined): string[] {
  if (deadline === undefined) return [];
  return Number.isFinite(deadline) && deadline > 0 ? [] : ["deadline must be a Unix time in ms"];
}

export function validateGenerateRequest(req: GenerateRequest): string[] {
  const problems = [
    ...validateInput(req),
    ...validateSampling(req.sampling),
    ...validateDeadline(req.deadline),
  ];
  if (!(Number.isSafeInteger(req.maxTokens) && req.maxTokens >= 1 && req.maxTokens <= MAX_TOKENS_LIMIT)) {
    problems.push(`maxTokens must be an integer in [1, ${MAX_TOKENS_LIMIT}]`);
  }
  if (req.jsonSchema !== undefined) {
    problems.push(...schemaProblems(req.jsonSchema).map((p) => `jsonSchema ${p}`));
  }
  return problems;
}

/**
 * Problems of a frozen schema, remembered: the worker service hands every request with the same schema text
 * the same frozen object, and a frozen object cannot change between two checks. Anything else is checked
 * every time.
 */
const frozenSchemaProblems = new WeakMap<object, string[]>();

function schemaProblems(schema: object): string[] {
  if (!Object.isFrozen(schema)) return checkJsonSchema(schema);
  let problems = frozenSchemaProblems.get(schema);
  if (problems === undefined) {
    problems = checkJsonSchema(schema);
    frozenSchemaProblems.set(schema, problems);
  }
  return problems;
}

export function validateScoreRequest(req: ScoreRequest): string[] {
  const problems = [...validateInput(req), ...validateDeadline(req.deadline)];
  if (!Array.isArray(req.candidates) || req.candidates.length === 0) {
    problems.push("candidates must be a non-empty array");
  } else {
    req.candidates.forEach((c, i) => {
      if (typeof c !== "string") problems.push(`candidates[${i}] must be a string`);
      else if (c.length === 0 && req.appendEos !== true) {
        problems.push(`candidates[${i}] is empty (only allowed with appendEos)`);
      }
    });
  }
  return problems;
}

function fail(problems: string[]): void {
  if (problems.length === 0) return;
  throw new BackendError("bad_request", `invalid request: ${problems.join("; ")}`, { details: problems });
}

export function assertValidGenerateRequest(req: GenerateRequest): void {
  fail(validateGenerateRequest(req));
}

export function assertValidScoreRequest(req: ScoreRequest): void {
  fail(validateScoreRequest(req));
}
