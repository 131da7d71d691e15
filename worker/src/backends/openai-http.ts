/**
 * The HTTP edge of the openai backend: the loose wire shapes OpenAI-compatible servers send, request
 * headers, and the mapping of upstream failures onto our error codes. Pure apart from reading a body.
 */
import { BackendError } from "./errors.js";
import type { FinishReason } from "./types.js";

/** Loose shapes of what OpenAI-compatible servers send; every field is read defensively. */
export interface WireChoice {
  message?: { content?: string | null };
  delta?: { content?: string | null };
  text?: string;
  finish_reason?: string | null;
  logprobs?: { tokens?: string[]; token_logprobs?: (number | null)[]; text_offset?: number[] } | null;
}
export interface WireResponse {
  choices?: WireChoice[];
  usage?: {
    prompt_tokens?: number;
    completion_tokens?: number;
    prompt_tokens_details?: { cached_tokens?: number };
  };
  /** llama-server's own per-request timings. */
  timings?: { prompt_ms?: number; predicted_ms?: number; cache_n?: number };
  error?: { message?: string } | string;
}

export function finishReasonOf(wire: string | null | undefined): FinishReason {
  return wire === "length" ? "length" : "stop";
}

/** Maps an upstream HTTP error onto our codes. Pure. */
export function errorFromStatus(status: number, message: string): BackendError {
  const text = `upstream answered ${status}: ${message}`;
  if (status === 400 && /context|too long|exceed|maximum.*tokens/i.test(message)) {
    return new BackendError("context_overflow", text);
  }
  if (status === 408 || status === 429 || status === 503) return new BackendError("busy", text);
  if (status === 401 || status === 403) return new BackendError("unavailable", text);
  if (status >= 400 && status < 500) return new BackendError("bad_request", text);
  return new BackendError("model_error", text);
}

export async function errorMessageOf(response: Response): Promise<string> {
  const body = await response.text().catch(() => "");
  try {
    const parsed = JSON.parse(body) as WireResponse;
    const e = parsed.error;
    if (typeof e === "string") return e;
    if (e?.message) return e.message;
  } catch {
    // not JSON: use the text
  }
  return body.slice(0, 500) || response.statusText;
}

export function networkCause(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

/** JSON in, JSON or SSE out; the key as a bearer token (never logged). */
export function headersFor(apiKey: string | undefined): Record<string, string> {
  return {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    ...(apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` }),
  };
}
