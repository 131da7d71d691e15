/**
 * One error type for the whole system. Code decides; text explains. Translation to gRPC status codes,
 * NATS error replies (ErrorInfo) and CLI exit codes happens only at the edges, through the tables here.
 */
import { create } from "@bufbuild/protobuf";
import { ErrorCode, type ErrorInfo, ErrorInfoSchema } from "../gen/conclave/v1/common_pb.js";

export { ErrorCode };

/** gRPC status codes (numeric values from the gRPC spec; kept here so the kit does not depend on grpc-js). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

interface CodeInfo {
  /** Short lower-case name used in logs, JSON output and messages. */
  name: string;
  grpc: GrpcStatusCode;
  /** Process exit code of the CLI when a command fails with this code. */
  exit: number;
  retryable: boolean;
}

const TABLE: Record<ErrorCode, CodeInfo> = {
  [ErrorCode.UNSPECIFIED]: { name: "internal", grpc: GrpcStatus.INTERNAL, exit: 1, retryable: false },
  [ErrorCode.INVALID_ARGUMENT]: {
    name: "invalid_argument",
    grpc: GrpcStatus.INVALID_ARGUMENT,
    exit: 2,
    retryable: false,
  },
  [ErrorCode.NOT_FOUND]: { name: "not_found", grpc: GrpcStatus.NOT_FOUND, exit: 4, retryable: false },
  [ErrorCode.ALREADY_EXISTS]: {
    name: "already_exists",
    grpc: GrpcStatus.ALREADY_EXISTS,
    exit: 5,
    retryable: false,
  },
  [ErrorCode.FAILED_PRECONDITION]: {
    name: "failed_precondition",
    grpc: GrpcStatus.FAILED_PRECONDITION,
    exit: 6,
    retryable: false,
  },
  [ErrorCode.BUSY]: { name: "busy", grpc: GrpcStatus.RESOURCE_EXHAUSTED, exit: 7, retryable: true },
  [ErrorCode.DEADLINE_EXCEEDED]: {
    name: "deadline_exceeded",
    grpc: GrpcStatus.DEADLINE_EXCEEDED,
    exit: 8,
    retryable: true,
  },
  [ErrorCode.CANCELLED]: { name: "cancelled", grpc: GrpcStatus.CANCELLED, exit: 130, retryable: false },
  [ErrorCode.UNAVAILABLE]: { name: "unavailable", grpc: GrpcStatus.UNAVAILABLE, exit: 69, retryable: true },
  [ErrorCode.UNAUTHENTICATED]: {
    name: "unauthenticated",
    grpc: GrpcStatus.UNAUTHENTICATED,
    exit: 77,
    retryable: false,
  },
  [ErrorCode.PERMISSION_DENIED]: {
    name: "permission_denied",
    grpc: GrpcStatus.PERMISSION_DENIED,
    exit: 77,
    retryable: false,
  },
  [ErrorCode.CONTEXT_OVERFLOW]: {
    name: "context_overflow",
    grpc: GrpcStatus.OUT_OF_RANGE,
    exit: 9,
    retryable: false,
  },
  [ErrorCode.MODEL_ERROR]: { name: "model_error", grpc: GrpcStatus.INTERNAL, exit: 10, retryable: true },
  [ErrorCode.INVALID_OUTPUT]: {
    name: "invalid_output",
    grpc: GrpcStatus.DATA_LOSS,
    exit: 11,
    retryable: true,
  },
  [ErrorCode.UNSUPPORTED]: {
    name: "unsupported",
    grpc: GrpcStatus.UNIMPLEMENTED,
    exit: 12,
    retryable: false,
  },
  [ErrorCode.DECODE]: { name: "decode_error", grpc: GrpcStatus.INVALID_ARGUMENT, exit: 2, retryable: false },
  [ErrorCode.BUDGET_EXHAUSTED]: {
    name: "budget_exhausted",
    grpc: GrpcStatus.RESOURCE_EXHAUSTED,
    exit: 13,
    retryable: false,
  },
  [ErrorCode.INTERNAL]: { name: "internal", grpc: GrpcStatus.INTERNAL, exit: 1, retryable: false },
};

/** gRPC status → our code, for errors that arrive from the wire without our ErrorInfo. */
const FROM_GRPC: Record<number, ErrorCode> = {
  [GrpcStatus.CANCELLED]: ErrorCode.CANCELLED,
  [GrpcStatus.INVALID_ARGUMENT]: ErrorCode.INVALID_ARGUMENT,
  [GrpcStatus.DEADLINE_EXCEEDED]: ErrorCode.DEADLINE_EXCEEDED,
  [GrpcStatus.NOT_FOUND]: ErrorCode.NOT_FOUND,
  [GrpcStatus.ALREADY_EXISTS]: ErrorCode.ALREADY_EXISTS,
  [GrpcStatus.PERMISSION_DENIED]: ErrorCode.PERMISSION_DENIED,
  [GrpcStatus.RESOURCE_EXHAUSTED]: ErrorCode.BUSY,
  [GrpcStatus.FAILED_PRECONDITION]: ErrorCode.FAILED_PRECONDITION,
  [GrpcStatus.OUT_OF_RANGE]: ErrorCode.CONTEXT_OVERFLOW,
  [GrpcStatus.UNIMPLEMENTED]: ErrorCode.UNSUPPORTED,
  [GrpcStatus.UNAVAILABLE]: ErrorCode.UNAVAILABLE,
  [GrpcStatus.DATA_LOSS]: ErrorCode.INVALID_OUTPUT,
  [GrpcStatus.UNAUTHENTICATED]: ErrorCode.UNAUTHENTICATED,
};

export interface ConclaveErrorOptions {
  cause?: unknown;
  /** Every individual problem (validation reports them all at once). */
  details?: readonly string[];
  /** Overrides the code's default retryability. */
  retryable?: boolean;
}

/** The base error of Conclave. Everything we throw on purpose is one of these. */
export class ConclaveError extends Error {
  override readonly name: string = "ConclaveError";
  readonly code: ErrorCode;
  readonly details: readonly string[];
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: ConclaveErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? [];
    this.retryable = options.retryable ?? TABLE[code].retryable;
  }

  /** Short code name, e.g. "busy". */
  get codeName(): string {
    return errorCodeName(this.code);
  }
}

/** Bytes on a wire were not the message we expected. */
export class DecodeError extends ConclaveError {
  override readonly name = "DecodeError";
  /** Fully-qualified protobuf type that was expected. */
  readonly typeName: string;
  constructor(typeName: string, message: string, options: ConclaveErrorOptions = {}) {
    super(ErrorCode.DECODE, message, options);
    this.typeName = typeName;
  }
}

export function errorCodeName(code: ErrorCode): string {
  return (TABLE[code] ?? TABLE[ErrorCode.INTERNAL]).name;
}

export function isConclaveError(err: unknown): err is ConclaveError {
  return err instanceof ConclaveError;
}

/**
 * Normalise anything thrown into a ConclaveError. Unknown errors become `internal` with a generic message:
 * the cause is kept (for logging where it happened) but its text is not sent over a wire.
 */
export function toConclaveError(err: unknown): ConclaveError {
  if (err instanceof ConclaveError) return err;
  return new ConclaveError(ErrorCode.INTERNAL, "internal error", { cause: err });
}

export function grpcStatusOf(code: ErrorCode): GrpcStatusCode {
  return (TABLE[code] ?? TABLE[ErrorCode.INTERNAL]).grpc;
}

export function errorCodeFromGrpcStatus(status: number): ErrorCode {
  return FROM_GRPC[status] ?? ErrorCode.INTERNAL;
}

export function exitCodeOf(code: ErrorCode): number {
  return (TABLE[code] ?? TABLE[ErrorCode.INTERNAL]).exit;
}

/** The NATS error reply (and job-event error) for an error. Unknown errors carry no internal text. */
export function toErrorInfo(err: unknown): ErrorInfo {
  const e = toConclaveError(err);
  return create(ErrorInfoSchema, {
    code: e.code,
    message: e.message,
    retryable: e.retryable,
    details: [...e.details],
  });
}

/** The error a NATS error reply stands for. */
export function fromErrorInfo(info: ErrorInfo): ConclaveError {
  const code = info.code === ErrorCode.UNSPECIFIED ? ErrorCode.INTERNAL : info.code;
  return new ConclaveError(code, info.message || errorCodeName(code), {
    details: info.details,
    retryable: info.retryable,
  });
}
