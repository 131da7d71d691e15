import { describe, expect, it } from "vitest";
import {
  checkJsonSchema,
  evaluateJsonOutput,
  validateJson,
} from "../../../worker/src/backends/json-output.js";
import type { JsonSchema } from "../../../worker/src/backends/types.js";

const review: JsonSchema = {
  type: "object",
  properties: {
    weight: { type: "integer", minimum: -100, maximum: 100 },
    stance: { enum: ["support", "oppose", "neutral"] },
    claims: { type: "array", items: { type: "string", maxLength: 20 }, maxItems: 2 },
    note: { type: ["string", "null"], maxLength: 5 },
  },
  required: ["weight", "stance"],
  additionalProperties: false,
};

describe("checkJsonSchema", () => {
  it("accepts the supported subset", () => {
    expect(checkJsonSchema(review)).toEqual([]);
    expect(
      checkJsonSchema({
        $defs: { n: { type: "number" } },
        type: "array",
        prefixItems: [{ $ref: "#/$defs/n" }],
      }),
    ).toEqual([]);
  });

  it("lists every unusable part with its path instead of silently ignoring it", () => {
    const problems = checkJsonSchema({
      type: "object",
      properties: { a: { type: "string", pattern: "^x$" }, b: { type: "strin" } },
      maxItems: -1,
      $ref: "http://example.com/s.json",
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        '#/properties/a: unsupported keyword "pattern"',
        '#/properties/b/type: unknown type "strin"',
        "#/maxItems: must be an integer ≥ 0",
        '#/$ref: only "#/$defs/<name>" references are supported',
      ]),
    );
    expect(checkJsonSchema("not a schema")).toEqual(["#: schema must be an object"]);
  });
});

describe("validateJson", () => {
  it("accepts a valid value", () => {
    expect(validateJson({ weight: 85, stance: "support", claims: ["a"], note: null }, review)).toEqual([]);
  });

  it("reports every problem with its JSON pointer", () => {
    const problems = validateJson(
      { weight: 101.5, stance: "maybe", claims: ["x".repeat(21), "b", "c"], extra: 1 },
      review,
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        "/weight: expected integer, got number",
        '/stance: expected one of ["support","oppose","neutral"]',
        "/claims: more than maxItems 2 items",
        "/claims/0: string longer than maxLength 20",
        '/: unexpected property "extra"',
      ]),
    );
    expect(validateJson({ stance: "support" }, review)).toEqual(['/: missing required property "weight"']);
  });

  it("follows $defs references and oneOf / anyOf", () => {
    const schema: JsonSchema = {
      $defs: { small: { type: "integer", maximum: 9 } },
      type: "object",
      properties: { d: { $ref: "#/$defs/small" }, e: { oneOf: [{ type: "string" }, { type: "integer" }] } },
    };
    expect(validateJson({ d: 3, e: "x" }, schema)).toEqual([]);
    expect(validateJson({ d: 12 }, schema)).toEqual(["/d: 12 is above the maximum 9"]);
    expect(validateJson({ e: true }, schema)).toEqual(["/e: matches 0 of the 2 oneOf alternatives"]);
  });

  it("checks string formats", () => {
    expect(validateJson("2024-02-30", { type: "string", format: "date" })).toEqual([]);
    expect(validateJson("yesterday", { type: "string", format: "date" })).toEqual(["/: not a valid date"]);
  });
});

describe("evaluateJsonOutput", () => {
  it("returns the parsed value when valid", () => {
    expect(evaluateJsonOutput('{"weight": 3, "stance": "neutral"}', review, false)).toEqual({
      valid: true,
      value: { weight: 3, stance: "neutral" },
    });
  });

  it("flags unparseable and truncated output as invalid_output, never accepting it", () => {
    const cut = evaluateJsonOutput('{"weight": 3, "sta', review, true);
    expect(cut.valid).toBe(false);
    if (!cut.valid) {
      expect(cut.code).toBe("invalid_output");
      expect(cut.problems[0]).toMatch(/cut off at the token limit/);
    }
    const bad = evaluateJsonOutput('{"weight": 300, "stance": "neutral"}', review, false);
    expect(bad).toEqual({
      valid: false,
      code: "invalid_output",
      problems: ["/weight: 300 is above the maximum 100"],
    });
  });
});
