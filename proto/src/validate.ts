/**
 * Invariants of the messages that cross NATS. Each validator returns every problem it finds (never just the
 * first), so one error tells a sender everything it has to fix.
 */
import type { ChatMessage } from "../gen/conclave/v1/common_pb.js";
import { ChatRole } from "../gen/conclave/v1/common_pb.js";
import type {
  CancelRequest,
  InferenceFrame,
  InferenceRequest,
  ScoreReply,
  ScoreRequest,
} from "../gen/conclave/v1/inference_pb.js";
import { WorkerState, type WorkerTelemetry } from "../gen/conclave/v1/telemetry_pb.js";
import { workerIdProblem } from "./ids.js";
import { LIMITS } from "./limits.js";

function chatProblems(messages: readonly ChatMessage[], out: string[]): number {
  if (messages.length === 0) out.push("chat input has no messages");
  let chars = 0;
  messages.forEach((m, i) => {
    if (m.role === ChatRole.UNSPECIFIED) out.push(`messages[${i}].role is unspecified`);
    chars += m.content.length;
  });
  return chars;
}

function inputProblems(
  input: InferenceRequest["input"] | ScoreRequest["input"],
  out: string[],
): number | undefined {
  switch (input.case) {
    case "chat":
      return chatProblems(input.value.messages, out);
    case "rawPrompt":
      if (input.value.length === 0) out.push("raw_prompt is empty");
      return input.value.length;
    default:
      out.push("input is missing (set chat or raw_prompt)");
      return undefined;
  }
}

function promptSizeProblem(chars: number | undefined, out: string[]): void {
  if (chars !== undefined && chars > LIMITS.maxPromptChars)
    out.push(`prompt is ${chars} characters; the limit is ${LIMITS.maxPromptChars}`);
}

export function validateTelemetry(t: WorkerTelemetry): string[] {
  const out: string[] = [];
  const idProblem = workerIdProblem(t.workerId);
  if (idProblem) out.push(idProblem);
  if (t.state === WorkerState.UNSPECIFIED) out.push("state is unspecified");
  if (!t.model) out.push("model descriptor is missing");
  else if (t.model.name.length === 0) out.push("model.name is empty");
  if (!t.slots) out.push("slots are missing");
  return out;
}

export function validateInferenceRequest(r: InferenceRequest): string[] {
  const out: string[] = [];
  if (r.requestId.length === 0) out.push("request_id is empty");
  promptSizeProblem(inputProblems(r.input, out), out);
  if (r.maxTokens === 0) out.push("max_tokens must be at least 1");
  if (r.maxTokens > LIMITS.maxTokensPerRequest)
    out.push(`max_tokens ${r.maxTokens} exceeds the limit ${LIMITS.maxTokensPerRequest}`);
  if (r.jsonSchema.length > LIMITS.maxJsonSchemaChars)
    out.push(`json_schema is ${r.jsonSchema.length} characters; the limit is ${LIMITS.maxJsonSchemaChars}`);
  if (r.jsonSchema.length > 0) {
    try {
      const parsed: unknown = JSON.parse(r.jsonSchema);
      if (typeof parsed !== "object" || parsed === null) out.push("json_schema is not a JSON object");
    } catch {
      out.push("json_schema is not valid JSON");
    }
  }
  const t = r.sampling?.temperature;
  if (t !== undefined && (t < 0 || t > 5 || Number.isNaN(t))) out.push(`temperature ${t} is outside [0, 5]`);
  const p = r.sampling?.topP;
  if (p !== undefined && (p <= 0 || p > 1 || Number.isNaN(p))) out.push(`top_p ${p} is outside (0, 1]`);
  return out;
}

export function validateScoreRequest(r: ScoreRequest): string[] {
  const out: string[] = [];
  if (r.requestId.length === 0) out.push("request_id is empty");
  promptSizeProblem(inputProblems(r.input, out), out);
  if (r.candidates.length === 0) out.push("candidates is empty");
  if (r.candidates.length > LIMITS.maxScoreCandidates)
    out.push(`${r.candidates.length} candidates; the limit is ${LIMITS.maxScoreCandidates}`);
  r.candidates.forEach((c, i) => {
    if (c.length > LIMITS.maxCandidateChars)
      out.push(`candidates[${i}] is ${c.length} characters; the limit is ${LIMITS.maxCandidateChars}`);
  });
  return out;
}

export function validateCancelRequest(r: CancelRequest): string[] {
  return r.requestId.length === 0 ? ["request_id is empty"] : [];
}

export function validateInferenceFrame(f: InferenceFrame): string[] {
  if (f.frame.case === undefined) return ["frame is empty (expected chunk, result or error)"];
  if (f.frame.case !== "error" && f.frame.value.requestId.length === 0) return ["request_id is empty"];
  return [];
}

export function validateScoreReply(r: ScoreReply): string[] {
  return r.reply.case === undefined ? ["reply is empty (expected result or error)"] : [];
}
