import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { InferenceRequestSchema } from "../../../proto/gen/conclave/v1/inference_pb.js";
import { ErrorCode } from "../../../proto/src/errors.js";
import { validateGenerateRequest } from "../../../worker/src/backends/validate-request.js";
import { cachedJsonSchemaParser, toGenerateRequest } from "../../../worker/src/service/wire-mapping.js";

const SCHEMA = JSON.stringify({
  type: "object",
  properties: { vote: { type: "integer", minimum: 0, maximum: 9 }, why: { type: "string", maxLength: 80 } },
  required: ["vote"],
});

const request = (jsonSchema: string) =>
  create(InferenceRequestSchema, {
    requestId: "r1",
    input: { case: "rawPrompt", value: "Q" },
    maxTokens: 8,
    jsonSchema,
    sampling: { temperature: 0, stop: ["\n"] },
  });

describe("toGenerateRequest with a cached schema parser", () => {
  it("parses each schema text once and hands every request the same frozen object", () => {
    const parse = cachedJsonSchemaParser();
    const a = toGenerateRequest(request(SCHEMA), parse);
    const b = toGenerateRequest(request(SCHEMA), parse);
    expect(a.jsonSchema).toEqual(JSON.parse(SCHEMA));
    expect(b.jsonSchema).toBe(a.jsonSchema);
    expect(Object.isFrozen(a.jsonSchema)).toBe(true);
    // Deeply: no request can change what the next one with the same text receives.
    const properties = a.jsonSchema?.properties as Record<string, Record<string, unknown>> | undefined;
    expect(() => {
      const vote = properties?.vote;
      if (vote) vote.maximum = 99;
    }).toThrow(TypeError);
    expect(validateGenerateRequest(b)).toEqual([]);
  });

  it("keeps only the most recently used schemas", () => {
    const parse = cachedJsonSchemaParser(2);
    const one = parse('{"type":"string"}');
    parse('{"type":"integer"}');
    expect(parse('{"type":"string"}')).toBe(one); // touched: now the most recent
    parse('{"type":"boolean"}'); // evicts integer, the least recently used
    expect(parse('{"type":"string"}')).toBe(one);
    const integer = parse('{"type":"integer"}');
    expect(integer).toEqual({ type: "integer" });
  });

  it("rejects a schema that is not JSON every time (nothing is remembered)", () => {
    const parse = cachedJsonSchemaParser();
    for (let i = 0; i < 2; i++) {
      expect(() => toGenerateRequest(request("{nope"), parse)).toThrow(
        expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
      );
    }
  });

  it("maps the rest of the request as without a cache", () => {
    const withCache = toGenerateRequest(request(SCHEMA), cachedJsonSchemaParser());
    const plain = toGenerateRequest(request(SCHEMA));
    expect(withCache).toEqual(plain);
    expect(plain).toMatchObject({ prompt: "Q", maxTokens: 8, sampling: { temperature: 0, stop: ["\n"] } });
  });
});
