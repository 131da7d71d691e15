import { create, equals } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InferenceRequestSchema } from "../../../proto/gen/conclave/v1/inference_pb.js";
import { WorkerState, WorkerTelemetrySchema } from "../../../proto/gen/conclave/v1/telemetry_pb.js";
import { createCodec } from "../../../proto/src/codec.js";
import { codecs } from "../../../proto/src/codecs.js";
import { DecodeError, ErrorCode } from "../../../proto/src/errors.js";
import { allMessageSchemas } from "../../support/all-messages.js";
import { arbitraryMessage } from "../../support/arbitrary-message.js";

describe("codec", () => {
  const schemas = allMessageSchemas();

  it("covers the whole contract", () => {
    expect(schemas.length).toBeGreaterThan(60);
    expect(schemas.map((s) => s.typeName)).toContain("conclave.v1.JobEvent");
  });

  for (const schema of schemas) {
    it(`round-trips every ${schema.typeName}`, () => {
      const codec = createCodec(schema);
      fc.assert(
        fc.property(arbitraryMessage(schema), (msg) => {
          const back = codec.decode(codec.encode(msg), schema.typeName);
          expect(equals(schema, back, msg)).toBe(true);
        }),
        { numRuns: 40 },
      );
    });
  }

  it("turns arbitrary bytes into a message or a DecodeError, never anything else", () => {
    for (const codec of Object.values(codecs)) {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
          try {
            codec.decode(bytes);
          } catch (err) {
            expect(err).toBeInstanceOf(DecodeError);
            expect((err as DecodeError).code).toBe(ErrorCode.DECODE);
          }
        }),
        { numRuns: 200 },
      );
    }
  });

  it("rejects truncated protobuf with a DecodeError naming the type", () => {
    const msg = create(WorkerTelemetrySchema, { workerId: "w1", state: WorkerState.READY });
    const bytes = codecs.telemetry.encode(msg);
    expect(() => codecs.telemetry.decode(bytes.subarray(0, bytes.length - 1))).toThrow(
      /conclave\.v1\.WorkerTelemetry/,
    );
  });

  it("rejects a payload whose type header names another message", () => {
    const bytes = codecs.discover.encode(create(codecs.discover.schema, {}));
    expect(() => codecs.telemetry.decode(bytes, "conclave.v1.DiscoverRequest")).toThrow(
      /expected a conclave\.v1\.WorkerTelemetry but the payload is a conclave\.v1\.DiscoverRequest/,
    );
  });

  it("lists every invariant a decoded message breaks", () => {
    const bad = create(InferenceRequestSchema, { maxTokens: 0, jsonSchema: "{not json" });
    try {
      codecs.inferenceRequest.decode(codecs.inferenceRequest.encode(bad));
      expect.unreachable("decode should have failed");
    } catch (err) {
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).details).toEqual([
        "request_id is empty",
        "input is missing (set chat or raw_prompt)",
        "max_tokens must be at least 1",
        "json_schema is not valid JSON",
      ]);
    }
  });

  it("rejects oversized prompts", () => {
    const req = create(InferenceRequestSchema, {
      requestId: "r1",
      maxTokens: 8,
      input: { case: "rawPrompt", value: "x".repeat(300_000) },
    });
    expect(() => codecs.inferenceRequest.decode(codecs.inferenceRequest.encode(req))).toThrow(
      /prompt is 300000 characters; the limit is 256000/,
    );
  });
});
