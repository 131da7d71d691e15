import { toBinary } from "@bufbuild/protobuf";
import { Metadata } from "@grpc/grpc-js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ErrorCode, ErrorInfoSchema } from "../../proto/gen/conclave/v1/common_pb.js";
import { ConclaveError, errorCodeFromGrpcStatus, GrpcStatus, grpcStatusOf } from "../../proto/src/errors.js";
import {
  ERROR_INFO_METADATA_KEY,
  fromGrpcErrorStatus,
  toGrpcErrorStatus,
} from "../../proto/src/grpc/status.js";

const codes = Object.values(ErrorCode).filter(
  (v): v is ErrorCode => typeof v === "number" && v !== ErrorCode.UNSPECIFIED,
);

describe("gRPC status mapping", () => {
  it("rebuilds the exact ConclaveError from its status and trailer", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...codes),
        fc.string({ maxLength: 200 }),
        fc.array(fc.string({ maxLength: 50 }), { maxLength: 5 }),
        fc.boolean(),
        (code, message, details, retryable) => {
          const sent = new ConclaveError(code, message, { details, retryable });
          const status = toGrpcErrorStatus(sent);
          expect(status.code).toBe(grpcStatusOf(code));
          expect(status.details).toBe(message);
          const received = fromGrpcErrorStatus(status);
          expect(received.code).toBe(code);
          // An empty message is replaced by the code's name on the way back (fromErrorInfo).
          expect(received.message).toBe(message === "" ? received.codeName : message);
          expect(received.details).toEqual(details);
          expect(received.retryable).toBe(retryable);
        },
      ),
    );
  });

  it("sends unknown errors as internal without their text", () => {
    const status = toGrpcErrorStatus(new Error("secret path /home/me/.ssh"));
    expect(status.code).toBe(GrpcStatus.INTERNAL);
    expect(status.details).toBe("internal error");
    const trailer = status.metadata.get(ERROR_INFO_METADATA_KEY)[0] as Buffer;
    expect(trailer.toString("latin1")).not.toContain("secret");
    expect(fromGrpcErrorStatus(status).code).toBe(ErrorCode.INTERNAL);
  });

  it("derives the code from the gRPC status when there is no trailer", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.string({ minLength: 1, maxLength: 100 }),
        (code, details) => {
          const received = fromGrpcErrorStatus({ code, details, metadata: new Metadata() });
          expect(received.code).toBe(errorCodeFromGrpcStatus(code));
          expect(received.message).toBe(details);
        },
      ),
    );
    expect(fromGrpcErrorStatus({ code: GrpcStatus.UNAVAILABLE, details: "" }).message).toBe("unavailable");
    // A failure reported with status OK is a broken peer, not a success.
    expect(fromGrpcErrorStatus({ code: GrpcStatus.OK }).code).toBe(ErrorCode.INTERNAL);
  });

  it("falls back to the status when the trailer is not an ErrorInfo", () => {
    const metadata = new Metadata();
    // Field 2 (message) claims 16 bytes that never come.
    metadata.set(ERROR_INFO_METADATA_KEY, Buffer.from([0x12, 0x10]));
    const received = fromGrpcErrorStatus({ code: GrpcStatus.NOT_FOUND, details: "gone", metadata });
    expect(received.code).toBe(ErrorCode.NOT_FOUND);
    expect(received.message).toBe("gone");
  });

  it("keeps the wire error as the cause on the client side", () => {
    const metadata = new Metadata();
    const info = toBinary(ErrorInfoSchema, {
      $typeName: "conclave.v1.ErrorInfo",
      code: ErrorCode.BUSY,
      message: "full",
      retryable: true,
      details: [],
    });
    metadata.set(ERROR_INFO_METADATA_KEY, Buffer.from(info));
    const wire = new Error("8 RESOURCE_EXHAUSTED: full");
    const received = fromGrpcErrorStatus(
      { code: GrpcStatus.RESOURCE_EXHAUSTED, details: "full", metadata },
      wire,
    );
    expect(received.code).toBe(ErrorCode.BUSY);
    expect(received.cause).toBe(wire);
  });
});
