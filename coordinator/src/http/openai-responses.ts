/**
 * The response bodies of `POST /v1/chat/completions` in OpenAI's shapes — a `chat.completion` object, or
 * `chat.completion.chunk` events framed as server-sent events — plus the `conclave` field that says which
 * job answered and how it stopped. Pure.
 */
import type { Job } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { stopReasonNames, strategyNames } from "../../../proto/src/names.js";

/** What every object of one response repeats. */
export interface CompletionMeta {
  /** `chatcmpl-<job id>`: the job id is recoverable from any chunk. */
  id: string;
  /** Seconds since the epoch, when the job was accepted. */
  created: number;
  /** The model id the client asked for (canonical form). */
  model: string;
}

export interface OpenAiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** The non-standard field on completions: which job answered, and why it stopped. */
export interface ConclaveInfo {
  job_id: string;
  strategy: string;
  rounds: number;
  stop_reason: string;
}

export function completionMeta(job: Job, model: string): CompletionMeta {
  return { id: `chatcmpl-${job.jobId}`, created: Math.floor(Number(job.createdAtUnixMs) / 1000), model };
}

/** Tokens the whole ensemble spent (every proposal, evaluation and aggregation), as OpenAI usage. */
export function usageOf(job: Job): OpenAiUsage {
  const prompt = job.result?.usage?.promptTokens ?? 0;
  const completion = job.result?.usage?.completionTokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export function conclaveInfo(job: Job): ConclaveInfo {
  return {
    job_id: job.jobId,
    strategy: strategyNames.name(job.spec?.strategy ?? 0),
    rounds: job.result?.rounds ?? job.currentRound,
    stop_reason: stopReasonNames.name(job.result?.stopReason ?? 0),
  };
}

/** The `chat.completion` object for a succeeded job. */
export function chatCompletion(meta: CompletionMeta, job: Job) {
  return {
    id: meta.id,
    object: "chat.completion" as const,
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        message: { role: "assistant" as const, content: job.result?.answer ?? "", refusal: null },
        logprobs: null,
        finish_reason: "stop" as const,
      },
    ],
    usage: usageOf(job),
    conclave: conclaveInfo(job),
  };
}

interface Delta {
  role?: "assistant";
  content?: string;
}

function chunk(
  meta: CompletionMeta,
  delta: Delta,
  finishReason: "stop" | null,
  includeUsage: boolean,
  extra: { conclave?: ConclaveInfo } = {},
) {
  return {
    id: meta.id,
    object: "chat.completion.chunk" as const,
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    // OpenAI sends `usage: null` on every chunk when usage was asked for, and the numbers in a last chunk.
    ...(includeUsage ? { usage: null } : {}),
    ...extra,
  };
}

/** The first chunk: the assistant's role, sent as soon as the job is accepted. */
export function roleChunk(meta: CompletionMeta, includeUsage: boolean) {
  return chunk(meta, { role: "assistant", content: "" }, null, includeUsage);
}

export function contentChunk(meta: CompletionMeta, content: string, includeUsage: boolean) {
  return chunk(meta, { content }, null, includeUsage);
}

export function finishChunk(meta: CompletionMeta, job: Job, includeUsage: boolean) {
  return chunk(meta, {}, "stop", includeUsage, { conclave: conclaveInfo(job) });
}

/** With `stream_options.include_usage`: the extra last chunk, no choices, the job's usage. */
export function usageChunk(meta: CompletionMeta, job: Job) {
  return {
    id: meta.id,
    object: "chat.completion.chunk" as const,
    created: meta.created,
    model: meta.model,
    choices: [],
    usage: usageOf(job),
  };
}

/** One SSE `data:` event. JSON.stringify never emits a raw newline, so one line always suffices. */
export function sseData(payload: unknown): string {
  return `data: ${typeof payload === "string" ? payload : JSON.stringify(payload)}\n\n`;
}

/** The stream's terminator, as OpenAI sends it. */
export const SSE_DONE = "data: [DONE]\n\n";

/** An SSE comment (ignored by clients; keeps proxies from timing an idle stream out). One line only. */
export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, " ")}\n\n`;
}
