import { describe, expect, it } from "vitest";
import {
  EVALUATION_LIMITS,
  evaluationJsonSchema,
  parseEvaluationOutput,
} from "../../../coordinator/src/deliberation/evaluation-schema.js";
import { ClaimVerdict, Stance } from "../../../proto/gen/conclave/v1/deliberation_pb.js";

const aliases = ["Candidate B", "Candidate A"];

/** Every string and array in a JSON schema is bounded. */
function unbounded(schema: unknown, path = "$"): string[] {
  if (typeof schema !== "object" || schema === null) return [];
  const s = schema as Record<string, unknown>;
  const out: string[] = [];
  if (s.type === "string" && s.enum === undefined && typeof s.maxLength !== "number") out.push(path);
  if (s.type === "array" && typeof s.maxItems !== "number") out.push(path);
  for (const [k, v] of Object.entries(s)) out.push(...unbounded(v, `${path}.${k}`));
  return out;
}

describe("evaluation schema", () => {
  it("bounds every string and array, and the weight", () => {
    const schema = evaluationJsonSchema(aliases);
    expect(unbounded(schema)).toEqual([]);
    const item = (schema.properties as { evaluations: { items: { properties: Record<string, unknown> } } })
      .evaluations.items.properties;
    expect(item.weight).toEqual({ type: "integer", minimum: -100, maximum: 100 });
    expect(item.candidate).toEqual({ type: "string", enum: aliases });
  });

  it("parses a valid reply (also inside a code fence)", () => {
    const reply = {
      evaluations: [
        {
          candidate: "Candidate A",
          weight: 90,
          stance: "support",
          claims: [{ text: "37+48=85", verdict: "verified" }],
          critique: "ok",
        },
        { candidate: "Candidate B", weight: -55.4, stance: "oppose", claims: [], critique: "carry error" },
      ],
    };
    const r = parseEvaluationOutput(`Here you go:\n\`\`\`json\n${JSON.stringify(reply)}\n\`\`\``, aliases);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.evaluations).toEqual([
      {
        alias: "Candidate A",
        weight: 90,
        stance: Stance.SUPPORT,
        claims: [{ text: "37+48=85", verdict: ClaimVerdict.VERIFIED }],
        critique: "ok",
      },
      { alias: "Candidate B", weight: -55, stance: Stance.OPPOSE, claims: [], critique: "carry error" },
    ]);
  });

  it("lists every problem at once", () => {
    const reply = {
      evaluations: [
        {
          candidate: "Candidate A",
          weight: 150,
          stance: "love",
          claims: Array(5).fill({ text: "x", verdict: "maybe" }),
          critique: "x".repeat(EVALUATION_LIMITS.critique + 1),
        },
        { candidate: "Candidate A", weight: 10, stance: "support", claims: [], critique: "" },
        { candidate: "Candidate Z", weight: "high", stance: "support", claims: [], critique: "" },
      ],
    };
    const r = parseEvaluationOutput(JSON.stringify(reply), aliases);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const all = r.problems.join("\n");
    expect(all).toMatch(/evaluations\[0\]\.weight/);
    expect(all).toMatch(/evaluations\[0\]\.stance/);
    expect(all).toMatch(/evaluations\[0\]\.claims has 5 items/);
    expect(all).toMatch(/evaluations\[0\]\.claims\[0\]\.verdict/);
    expect(all).toMatch(/evaluations\[0\]\.critique is longer/);
    expect(all).toMatch(/scored twice/);
    expect(all).toMatch(/"Candidate Z" is not a candidate/);
    expect(all).toMatch(/evaluations\[2\]\.weight/);
    expect(all).toMatch(/"Candidate B" is missing/);
  });

  it("reports non-JSON output", () => {
    const r = parseEvaluationOutput("I think A is best", aliases);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems[0]).toMatch(/not valid JSON|evaluations/);
  });
});
