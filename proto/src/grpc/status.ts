/**
 * ConclaveError ⇄ gRPC status, the only place the two meet. The status code and message are what any gRPC
 * client sees; the full ErrorInfo (our code, retryability, every detail) rides along in a binary trailer so a
 * Conclave client rebuilds the exact error instead of guessing from a coarser gRPC code.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { Metadata } from "@grpc/grpc-js";
import { ErrorInfoSchema } from "../../gen/conclave/v1/common_pb.js";
import {
  ConclaveError,
  ErrorCode,
  errorCodeFromGrpcStatus,
  errorCodeName,
  fromErrorInfo,
  GrpcStatus,
  type GrpcStatusCode,
  grpcStatusOf,
  toConclaveError,
  toErrorInfo,
} from "../errors.js";

/** Trailing-metadata key carrying a serialized conclave.v1.ErrorInfo (`-bin`: gRPC sends it base64). */
export const ERROR_INFO_METADATA_KEY = "conclave-error-bin";

/** What a server sends when a call fails; the shape grpc-js accepts as a status or service error. */
export interface GrpcErrorStatus {
  code: GrpcStatusCode;
  details: string;
  metadata: Metadata;
}

/**
 * The status a failed call ends with. Unknown errors become `internal` with a generic message: their text
 * may hold paths, hostnames or secrets, so it is logged where it happened and never sent.
 */
export function toGrpcErrorStatus(err: unknown): GrpcErrorStatus {
  const error = toConclaveError(err);
  const metadata = new Metadata();
  metadata.set(ERROR_INFO_METADATA_KEY, Buffer.from(toBinary(ErrorInfoSchema, toErrorInfo(error))));
  return { code: grpcStatusOf(error.code), details: error.message, metadata };
}

/** The parts of a finished call's status a client can see (grpc-js ServiceError has this shape). */
export interface ReceivedStatus {
  code: number;
  details?: string | undefined;
  metadata?: Metadata | undefined;
}

/**
 * The error a failed call stands for: the exact ConclaveError when the server sent its ErrorInfo trailer,
 * otherwise one derived from the gRPC status (a foreign server, a proxy, or grpc-js itself, e.g. UNAVAILABLE).
 */
export function fromGrpcErrorStatus(status: ReceivedStatus, cause?: unknown): ConclaveError {
  const info = readErrorInfo(status.metadata);
  if (info !== undefined) {
    const error = fromErrorInfo(info);
    return new ConclaveError(error.code, error.message, {
      cause,
      details: error.details,
      retryable: error.retryable,
    });
  }
  const code = status.code === GrpcStatus.OK ? ErrorCode.INTERNAL : errorCodeFromGrpcStatus(status.code);
  const message =
    status.details !== undefined && status.details !== "" ? status.details : errorCodeName(code);
  return new ConclaveError(code, message, { cause });
}

function readErrorInfo(metadata: Metadata | undefined) {
  const value = metadata?.get(ERROR_INFO_METADATA_KEY)[0];
  if (value === undefined || typeof value === "string") return undefined;
  try {
    return fromBinary(ErrorInfoSchema, value);
  } catch {
    // A trailer we cannot read is no worse than no trailer: fall back to the status code.
    return undefined;
  }
}
