import { create, fromBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CoordinatorService,
  ListJobsRequestSchema,
  WatchJobRequestSchema,
} from "../../proto/gen/conclave/v1/coordinator_pb.js";
import { JobState } from "../../proto/gen/conclave/v1/deliberation_pb.js";
import { DecodeError } from "../../proto/src/errors.js";
import {
  deserializeRequest,
  MalformedRequest,
  methodPath,
  serializeMessage,
  serviceDefinitionOf,
} from "../../proto/src/grpc/service-definition.js";

describe("service definitions from protobuf-es descriptors", () => {
  it("maps every method to its path and streaming flags", () => {
    const definition = serviceDefinitionOf(CoordinatorService);
    expect(Object.keys(definition).sort()).toEqual(CoordinatorService.methods.map((m) => m.name).sort());
    expect(definition.ListJobs?.path).toBe("/conclave.v1.CoordinatorService/ListJobs");
    expect(definition.ListJobs?.responseStream).toBe(false);
    expect(definition.WatchJob?.responseStream).toBe(true);
    expect(definition.WatchJob?.requestStream).toBe(false);
    expect(definition.WatchJob?.originalName).toBe("watchJob");
    expect(methodPath(CoordinatorService.method.submitJob)).toBe("/conclave.v1.CoordinatorService/SubmitJob");
  });

  it("round-trips requests through the serializers", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        (jobId, from) => {
          const request = create(WatchJobRequestSchema, { jobId, fromSequence: from });
          const bytes = serializeMessage(WatchJobRequestSchema, request);
          expect(Buffer.isBuffer(bytes)).toBe(true);
          expect(deserializeRequest(WatchJobRequestSchema, bytes)).toEqual(request);
        },
      ),
    );
  });

  it("never throws on arbitrary bytes: a message or a MalformedRequest", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const result = deserializeRequest(ListJobsRequestSchema, bytes);
        if (result instanceof MalformedRequest) {
          expect(result.error).toBeInstanceOf(DecodeError);
          expect(result.error.typeName).toBe("conclave.v1.ListJobsRequest");
          expect(() => fromBinary(ListJobsRequestSchema, bytes)).toThrow();
        } else {
          expect(result.$typeName).toBe("conclave.v1.ListJobsRequest");
        }
      }),
    );
  });

  it("reports a truncated body as malformed", () => {
    const result = deserializeRequest(ListJobsRequestSchema, new Uint8Array([0x0a, 0x10]));
    expect(result).toBeInstanceOf(MalformedRequest);
    const ok = deserializeRequest(
      ListJobsRequestSchema,
      serializeMessage(ListJobsRequestSchema, create(ListJobsRequestSchema, { states: [JobState.RUNNING] })),
    );
    expect(ok).toMatchObject({ states: [JobState.RUNNING] });
  });
});
