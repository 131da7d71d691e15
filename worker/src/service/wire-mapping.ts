/**
 * The edge between the wire (protobuf) and the model layer (plain types). Everything protobuf-shaped stops
 * here; everything backend-shaped starts here.
 */
import { create } from "@bufbuild/protobuf";
import { ChatRole, type ErrorInfo } from "../../../proto/gen/conclave/v1/common_pb.js";
import {
  FinishReason,
  type InferenceRequest,
  type InferenceResult,
  InferenceResultSchema,
  ScoreResultSchema,
  type ScoreRequest as WireScoreRequest,
  type ScoreResult as WireScoreResult,
} from "../../../proto/gen/conclave/v1/inference_pb.js";
import {
  BackendKind,
  ModelDescriptorSchema,
  type ModelDescriptor as WireModelDescriptor,
} from "../../../proto/gen/conclave/v1/telemetry_pb.js";
import { ConclaveError, ErrorCode, toErrorInfo } from "../../../proto/src/errors.js";
import { type BackendErrorCode, isBackendError } from "../backends/errors.js";
import type {
  ChatMessage,
  GenerateRequest,
  GenerateResult,
  JsonSchema,
  ModelDescriptor,
  PromptInput,
  SamplingParams,
  ScoreRequest,
  ScoreResult,
} from "../backends/types.js";

const ROLE: Record<number, ChatMessage["role"] | undefined> = {
  [ChatRole.SYSTEM]: "system",
  [ChatRole.USER]: "user",
  [ChatRole.ASSISTANT]: "assistant",
};

function promptOf(input: InferenceRequest["input"] | WireScoreRequest["input"]): PromptInput {
  if (input.case === "rawPrompt") return { prompt: input.value };
  if (input.case === "chat") {
    return {
      messages: input.value.messages.map((m) => ({ role: ROLE[m.role] ?? "user", content: m.content })),
    };
  }
  throw new ConclaveError(ErrorCode.INVALID_ARGUMENT, "input is missing (set chat or raw_prompt)");
}

function deadlineOf(unixMs: bigint): number | undefined {
  return unixMs > 0n ? Number(unixMs) : undefined;
}

/** Turns a request's `json_schema` text into a schema. @throws ConclaveError(INVALID_ARGUMENT) */
export type JsonSchemaParser = (text: string) => JsonSchema;

export function parseJsonSchemaText(text: string): JsonSchema {
  try {
    return JSON.parse(text) as JsonSchema;
  } catch {
    throw new ConclaveError(ErrorCode.INVALID_ARGUMENT, "json_schema is not valid JSON");
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * A parser that remembers the last `limit` schemas by their text: a deliberation sends the same few schemas
 * with every request, so each is parsed once, and the backends can key their own per-schema work (checks,
 * grammars) on the same object. The schemas are deep-frozen because every request with that text shares
 * one object. Invalid JSON is not remembered (it throws every time).
 */
export function cachedJsonSchemaParser(limit = 32): JsonSchemaParser {
  const cache = new Map<string, JsonSchema>();
  return (text) => {
    let schema = cache.get(text);
    if (schema === undefined) {
      schema = deepFreeze(parseJsonSchemaText(text));
      if (cache.size >= limit) {
        const oldest = cache.keys().next().value;
        if (oldest !== undefined) cache.delete(oldest);
      }
    } else {
      // Re-inserting keeps the map in least-recently-used order.
      cache.delete(text);
    }
    cache.set(text, schema);
    return schema;
  };
}

/** @throws ConclaveError(INVALID_ARGUMENT) when the JSON schema is not valid JSON. */
export function toGenerateRequest(
  req: InferenceRequest,
  parseSchema: JsonSchemaParser = parseJsonSchemaText,
): GenerateRequest {
  const s = req.sampling;
  const sampling: SamplingParams = {
    ...(s?.temperature !== undefined ? { temperature: s.temperature } : {}),
    ...(s?.topP !== undefined ? { topP: s.topP } : {}),
    ...(s?.topK !== undefined ? { topK: s.topK } : {}),
    ...(s?.seed !== undefined ? { seed: s.seed } : {}),
    ...(s?.repeatPenalty !== undefined ? { repeatPenalty: s.repeatPenalty } : {}),
    ...(s && s.stop.length > 0 ? { stop: [...s.stop] } : {}),
  };
  const jsonSchema = req.jsonSchema.length > 0 ? parseSchema(req.jsonSchema) : undefined;
  const deadline = deadlineOf(req.deadlineUnixMs);
  return {
    ...promptOf(req.input),
    sampling,
    maxTokens: req.maxTokens,
    ...(jsonSchema ? { jsonSchema } : {}),
    ...(deadline !== undefined ? { deadline } : {}),
  } as GenerateRequest;
}

export function toScoreRequest(req: WireScoreRequest): ScoreRequest {
  const deadline = deadlineOf(req.deadlineUnixMs);
  return {
    ...promptOf(req.input),
    candidates: [...req.candidates],
    appendEos: req.appendEos,
    ...(deadline !== undefined ? { deadline } : {}),
  } as ScoreRequest;
}

const FINISH: Record<GenerateResult["finishReason"], FinishReason> = {
  stop: FinishReason.STOP,
  length: FinishReason.LENGTH,
  cancelled: FinishReason.CANCELLED,
  deadline: FinishReason.DEADLINE,
};

export function toInferenceResult(
  requestId: string,
  workerId: string,
  result: GenerateResult,
  totalMs: number,
): InferenceResult {
  return create(InferenceResultSchema, {
    requestId,
    workerId,
    text: result.text,
    finishReason: FINISH[result.finishReason],
    usage: { promptTokens: result.promptTokens, completionTokens: result.completionTokens },
    timings: {
      queueMs: result.queueMs,
      prefillMs: result.prefillMs,
      generateMs: result.generateMs,
      totalMs,
    },
    jsonValid: result.json?.valid ?? false,
    jsonProblems: result.json && !result.json.valid ? [...result.json.problems] : [],
  });
}

export function toWireScoreResult(
  requestId: string,
  workerId: string,
  result: ScoreResult,
  totalMs: number,
): WireScoreResult {
  return create(ScoreResultSchema, {
    requestId,
    workerId,
    candidates: result.candidates.map((c) => ({
      totalLogprob: c.totalLogprob,
      tokens: c.tokens.map((t) => ({ tokenId: t.id, text: t.text, logprob: t.logprob })),
    })),
    usage: { promptTokens: result.promptTokens, completionTokens: 0 },
    timings: { queueMs: result.queueMs, prefillMs: result.prefillMs, generateMs: 0, totalMs },
  });
}

const BACKEND_CODE: Record<BackendErrorCode, ErrorCode> = {
  busy: ErrorCode.BUSY,
  context_overflow: ErrorCode.CONTEXT_OVERFLOW,
  deadline_exceeded: ErrorCode.DEADLINE_EXCEEDED,
  cancelled: ErrorCode.CANCELLED,
  bad_request: ErrorCode.INVALID_ARGUMENT,
  model_error: ErrorCode.MODEL_ERROR,
  unsupported: ErrorCode.UNSUPPORTED,
  unavailable: ErrorCode.UNAVAILABLE,
};

/** Any failure below the service, as the typed error reply the caller receives. */
export function toWireError(err: unknown): ErrorInfo {
  if (isBackendError(err)) {
    return toErrorInfo(new ConclaveError(BACKEND_CODE[err.code], err.message, { details: err.details }));
  }
  return toErrorInfo(err);
}

const KIND: Record<ModelDescriptor["backend"], BackendKind> = {
  llama: BackendKind.LLAMA,
  openai: BackendKind.OPENAI,
};

export function toWireDescriptor(d: ModelDescriptor, kind?: BackendKind): WireModelDescriptor {
  return create(ModelDescriptorSchema, {
    name: d.name,
    family: d.family,
    architecture: d.architecture,
    parameterCount: BigInt(Math.max(0, Math.round(d.parameterCount))),
    quantization: d.quantization,
    contextLength: d.contextLength,
    trainContextLength: d.trainContextLength,
    fileSizeBytes: BigInt(Math.max(0, Math.round(d.fileSizeBytes))),
    source: d.source,
    backend: kind ?? KIND[d.backend] ?? BackendKind.UNSPECIFIED,
    hasChatTemplate: d.hasChatTemplate,
    supportsScoring: d.supportsScoring,
  });
}
