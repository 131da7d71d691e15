/**
 * Errors at the HTTP edge: one class for problems the endpoint itself finds (bad JSON, unknown model, …),
 * and the table that turns any ConclaveError code into an HTTP status and an OpenAI-style error body
 * (`{ error: { message, type, param, code } }`), which the openai SDKs parse into their own error classes.
 */
import { ErrorCode, errorCodeName, toConclaveError } from "../../../proto/src/errors.js";

/** A problem found at the HTTP edge: status and OpenAI error `code` chosen where it is detected. */
export class HttpError extends Error {
  override readonly name = "HttpError";
  readonly status: number;
  /** OpenAI-style machine code, e.g. `model_not_found`, `invalid_json`. */
  readonly code: string;
  /** The request field at fault, when there is one. */
  readonly param: string | null;
  /** Extra response headers (e.g. `Allow` on 405, `WWW-Authenticate` on 401). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { param?: string; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
  }
}

/**
 * HTTP status of each error code. FAILED_PRECONDITION (e.g. no seating satisfies the strategy) is 409: the
 * request is fine but the pool's state does not allow it now, and the openai SDKs retry 409 (a worker may
 * join) while they do not retry 422. A job cancelled by an operator is also 409 (its state conflicts).
 */
const STATUS: Readonly<Record<ErrorCode, number>> = {
  [ErrorCode.UNSPECIFIED]: 500,
  [ErrorCode.INVALID_ARGUMENT]: 400,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.ALREADY_EXISTS]: 409,
  [ErrorCode.FAILED_PRECONDITION]: 409,
  [ErrorCode.BUSY]: 429,
  [ErrorCode.DEADLINE_EXCEEDED]: 504,
  [ErrorCode.CANCELLED]: 409,
  [ErrorCode.UNAVAILABLE]: 503,
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.PERMISSION_DENIED]: 403,
  [ErrorCode.CONTEXT_OVERFLOW]: 400,
  [ErrorCode.MODEL_ERROR]: 502,
  [ErrorCode.INVALID_OUTPUT]: 502,
  [ErrorCode.UNSUPPORTED]: 400,
  [ErrorCode.DECODE]: 400,
  [ErrorCode.BUDGET_EXHAUSTED]: 422,
  [ErrorCode.INTERNAL]: 500,
};

export function httpStatusOf(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

/** OpenAI's error `type` for a status (the SDKs only read the status; people read the type). */
export function openAiErrorType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 409) return "conflict_error";
  if (status === 413) return "request_too_large";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string };
}

/** Status, headers and body for anything thrown while serving a request. Unknown errors say nothing inside. */
export function errorResponse(err: unknown): {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: OpenAiErrorBody;
} {
  if (err instanceof HttpError) {
    return {
      status: err.status,
      headers: err.headers,
      body: {
        error: { message: err.message, type: openAiErrorType(err.status), param: err.param, code: err.code },
      },
    };
  }
  const e = toConclaveError(err);
  return conclaveErrorResponse(e.code, e.message);
}

/** The response for an error code and message (e.g. a failed job's ErrorInfo). */
export function conclaveErrorResponse(
  code: ErrorCode,
  message: string,
): { status: number; headers: Readonly<Record<string, string>>; body: OpenAiErrorBody } {
  const status = httpStatusOf(code);
  return {
    status,
    headers: status === 503 || status === 429 ? { "retry-after": "5" } : {},
    body: {
      error: {
        message: message || errorCodeName(code),
        type: openAiErrorType(status),
        param: null,
        code: errorCodeName(code),
      },
    },
  };
}
