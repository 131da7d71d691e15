/**
 * Typed errors of the worker's model layer. Code decides, text explains: the NATS service maps
 * `BackendError.code` onto the wire's ErrorCode at its edge; nothing below it knows about protobuf.
 */

/**
 * Why a request failed.
 * - `busy`: every slot and queue place is taken; retry later or elsewhere.
 * - `context_overflow`: the prompt (or prompt plus candidate) does not fit in the context.
 * - `deadline_exceeded`: the request's deadline passed before it reached a slot.
 * - `cancelled`: the caller aborted before the request reached a slot.
 * - `bad_request`: the request is malformed (lists every problem in `details`).
 * - `model_error`: the model or its runtime failed.
 * - `unsupported`: this backend cannot do that (e.g. scoring on an upstream without logprobs).
 * - `unavailable`: the upstream server (openai backend) cannot be reached right now.
 */
export type BackendErrorCode =
  | "busy"
  | "context_overflow"
  | "deadline_exceeded"
  | "cancelled"
  | "bad_request"
  | "model_error"
  | "unsupported"
  | "unavailable";

export interface BackendErrorOptions {
  cause?: unknown;
  /** Every individual problem (validation lists them all at once). */
  details?: readonly string[];
}

/** The one error type a ModelBackend throws on purpose. */
export class BackendError extends Error {
  override readonly name = "BackendError";
  readonly code: BackendErrorCode;
  readonly details: readonly string[];

  constructor(code: BackendErrorCode, message: string, options: BackendErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? [];
  }
}

export function isBackendError(err: unknown): err is BackendError {
  return err instanceof BackendError;
}

/** Normalises anything thrown below the backend into a BackendError; unknown errors become `model_error`. */
export function toBackendError(err: unknown, message = "model runtime failed"): BackendError {
  if (err instanceof BackendError) return err;
  return new BackendError("model_error", message, { cause: err });
}

/**
 * What is wrong at startup, named exactly:
 * - `model_missing`: the file (or cached `hf:` download) does not exist.
 * - `not_gguf`: the file does not start with the `GGUF` magic bytes.
 * - `invalid_gguf`: the header cannot be parsed.
 * - `truncated_gguf`: the header declares more data than the file holds (an interrupted download).
 * - `model_too_big`: the model plus its context needs more memory than is free.
 * - `download_failed`: resolving an `hf:` / URL model failed.
 * - `model_load_failed`: llama.cpp refused to load the file or create the context.
 * - `upstream_unreachable`: the openai backend's server does not answer.
 * - `bad_config`: backend options are invalid (lists every problem).
 */
export type ModelStartupErrorCode =
  | "model_missing"
  | "not_gguf"
  | "invalid_gguf"
  | "truncated_gguf"
  | "model_too_big"
  | "download_failed"
  | "model_load_failed"
  | "upstream_unreachable"
  | "bad_config";

/** A backend could not start. The message names the file or URL and the exact problem. */
export class ModelStartupError extends Error {
  override readonly name = "ModelStartupError";
  readonly code: ModelStartupErrorCode;
  readonly details: readonly string[];

  constructor(code: ModelStartupErrorCode, message: string, options: BackendErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? [];
  }
}

export function isModelStartupError(err: unknown): err is ModelStartupError {
  return err instanceof ModelStartupError;
}
