import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../../proto/gen/conclave/v1/common_pb.js";
import {
  ConclaveError,
  DecodeError,
  errorCodeFromGrpcStatus,
  errorCodeName,
  exitCodeOf,
  fromErrorInfo,
  GrpcStatus,
  grpcStatusOf,
  toConclaveError,
  toErrorInfo,
} from "../../../proto/src/errors.js";

const ALL_CODES = Object.values(ErrorCode).filter((v): v is ErrorCode => typeof v === "number");

describe("errors", () => {
  it("maps each code to the expected gRPC status", () => {
    expect(grpcStatusOf(ErrorCode.INVALID_ARGUMENT)).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(grpcStatusOf(ErrorCode.NOT_FOUND)).toBe(GrpcStatus.NOT_FOUND);
    expect(grpcStatusOf(ErrorCode.BUSY)).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(grpcStatusOf(ErrorCode.DEADLINE_EXCEEDED)).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    expect(grpcStatusOf(ErrorCode.UNAVAILABLE)).toBe(GrpcStatus.UNAVAILABLE);
    expect(grpcStatusOf(ErrorCode.UNSUPPORTED)).toBe(GrpcStatus.UNIMPLEMENTED);
    expect(grpcStatusOf(ErrorCode.UNAUTHENTICATED)).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(grpcStatusOf(ErrorCode.INTERNAL)).toBe(GrpcStatus.INTERNAL);
  });

  it("round-trips every code that owns its gRPC status", () => {
    for (const code of ALL_CODES) {
      const back = errorCodeFromGrpcStatus(grpcStatusOf(code));
      // Several codes share a status (e.g. model_error and internal); the status maps back to one of them.
      expect(grpcStatusOf(back)).toBe(grpcStatusOf(code));
    }
    expect(errorCodeFromGrpcStatus(GrpcStatus.UNKNOWN)).toBe(ErrorCode.INTERNAL);
    expect(errorCodeFromGrpcStatus(999)).toBe(ErrorCode.INTERNAL);
  });

  it("round-trips through the NATS error reply unchanged", () => {
    for (const code of ALL_CODES.filter((c) => c !== ErrorCode.UNSPECIFIED)) {
      const err = new ConclaveError(code, `problem ${code}`, { details: ["a", "b"] });
      const back = fromErrorInfo(toErrorInfo(err));
      expect(back.code).toBe(code);
      expect(back.message).toBe(`problem ${code}`);
      expect(back.details).toEqual(["a", "b"]);
      expect(back.retryable).toBe(err.retryable);
    }
  });

  it("never sends the text of an unknown error", () => {
    const info = toErrorInfo(new Error("password=hunter2 at /secret/path"));
    expect(info.code).toBe(ErrorCode.INTERNAL);
    expect(info.message).toBe("internal error");
    const wrapped = toConclaveError(new TypeError("boom"));
    expect(wrapped.code).toBe(ErrorCode.INTERNAL);
    expect((wrapped.cause as Error).message).toBe("boom");
  });

  it("gives distinct non-zero exit codes to the errors a CLI user meets", () => {
    const codes = [
      ErrorCode.INVALID_ARGUMENT,
      ErrorCode.NOT_FOUND,
      ErrorCode.UNAVAILABLE,
      ErrorCode.BUSY,
      ErrorCode.DEADLINE_EXCEEDED,
    ];
    const exits = codes.map(exitCodeOf);
    expect(new Set(exits).size).toBe(codes.length);
    expect(exits.every((e) => e > 0)).toBe(true);
  });

  it("names codes and keeps decode errors typed", () => {
    expect(errorCodeName(ErrorCode.BUSY)).toBe("busy");
    const d = new DecodeError("conclave.v1.X", "bad");
    expect(d).toBeInstanceOf(ConclaveError);
    expect(d.code).toBe(ErrorCode.DECODE);
    expect(d.codeName).toBe("decode_error");
    expect(d.typeName).toBe("conclave.v1.X");
  });
});
