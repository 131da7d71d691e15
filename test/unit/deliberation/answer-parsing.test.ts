import { describe, expect, it } from "vitest";
import {
  answerKey,
  extractAnswer,
  majorityVote,
  normaliseNumber,
} from "../../../coordinator/src/deliberation/answer.js";
import {
  parseChatProposal,
  parseRawProposal,
  proposalJsonSchema,
} from "../../../coordinator/src/deliberation/proposal-parsing.js";

describe("answer extraction and majority vote", () => {
  it("normalises numbers", () => {
    expect(normaliseNumber("85")).toBe("85");
    expect(normaliseNumber(" +85.0 ")).toBe("85");
    expect(normaliseNumber("1,000")).toBe("1000");
    expect(normaliseNumber("-0")).toBe("0");
    expect(normaliseNumber("$12.50.")).toBe("12.5");
    expect(normaliseNumber("85 apples")).toBeUndefined();
  });
  it("extracts marked answers", () => {
    expect(extractAnswer("Reasoning... The answer is 85.")).toBe("85");
    expect(extractAnswer("so \\boxed{42}")).toBe("42");
    expect(extractAnswer("Final answer: Paris")).toBe("Paris");
    expect(answerKey("  Paris. ")).toBe(answerKey("paris"));
    expect(answerKey("The answer is 85")).toBe("85");
  });
  it("votes by key, ties to the first group", () => {
    expect(majorityVote(["85", "84", "85.0", "84"])?.index).toBe(0);
    expect(majorityVote(["84", "85", "85"])?.index).toBe(1);
    expect(majorityVote(["a", "b"])?.index).toBe(0);
    expect(majorityVote([])).toBeUndefined();
  });
});

describe("proposal parsing", () => {
  it("reads the bounded JSON contract", () => {
    const schema = proposalJsonSchema() as { properties: Record<string, { maxLength?: number }> };
    expect(schema.properties.answer?.maxLength).toBeGreaterThan(0);
    expect(schema.properties.rationale?.maxLength).toBeGreaterThan(0);
    expect(parseChatProposal('{"answer":" 85 ","rationale":"7+8=15, carry"}')).toEqual({
      answer: "85",
      rationale: "7+8=15, carry",
      note: "",
    });
  });
  it("falls back to free text and rejects empty output", () => {
    expect(parseChatProposal("It is 85.")).toEqual({
      answer: "It is 85.",
      rationale: "",
      note: "free text instead of the requested JSON",
    });
    expect(parseChatProposal("   ")).toBeUndefined();
  });
  it("takes a raw model's trimmed completion", () => {
    expect(parseRawProposal("85 ")).toEqual({ answer: "85", rationale: "", note: "" });
    expect(parseRawProposal("")).toBeUndefined();
  });
});
