/** Proposal output: the bounded JSON contract for chat models, plain completions for raw models. Pure. */
import { parseJsonLenient } from "./evaluation-schema.js";

export const PROPOSAL_LIMITS = {
  /** The answer is the product; bound it by characters well above any max_tokens we ask for. */
  answer: 16_000,
  rationale: 1_200,
} as const;

export function proposalJsonSchema(): Record<string, unknown> {
  return {
    type: "object",
    additionalProperties: false,
    required: ["answer", "rationale"],
    properties: {
      answer: { type: "string", maxLength: PROPOSAL_LIMITS.answer },
      rationale: { type: "string", maxLength: PROPOSAL_LIMITS.rationale },
    },
  };
}

export interface ParsedProposal {
  answer: string;
  rationale: string;
  /** Non-empty when parsing fell back or cut something. */
  note: string;
}

/**
 * A chat model's proposal. Falls back to the whole text as the answer when it is not the requested JSON
 * (a free-text answer is still an answer); undefined when there is no answer at all.
 */
export function parseChatProposal(text: string): ParsedProposal | undefined {
  const json = parseJsonLenient(text);
  if (json.ok && typeof json.value === "object" && json.value !== null) {
    const v = json.value as Record<string, unknown>;
    if (typeof v.answer === "string" && v.answer.trim() !== "") {
      const notes: string[] = [];
      let answer = v.answer.trim();
      let rationale = typeof v.rationale === "string" ? v.rationale.trim() : "";
      if (typeof v.rationale !== "string") notes.push("rationale missing");
      if (answer.length > PROPOSAL_LIMITS.answer) {
        answer = answer.slice(0, PROPOSAL_LIMITS.answer);
        notes.push("answer cut to the limit");
      }
      if (rationale.length > PROPOSAL_LIMITS.rationale) {
        rationale = rationale.slice(0, PROPOSAL_LIMITS.rationale);
        notes.push("rationale cut to the limit");
      }
      return { answer, rationale, note: notes.join("; ") };
    }
  }
  const free = text.trim();
  if (free === "") return undefined;
  return {
    answer: free.slice(0, PROPOSAL_LIMITS.answer),
    rationale: "",
    note: "free text instead of the requested JSON",
  };
}

/** A raw model's proposal is its trimmed completion (`85` for `Q 37+48=`); undefined when empty. */
export function parseRawProposal(text: string): ParsedProposal | undefined {
  const answer = text.trim();
  return answer === "" ? undefined : { answer, rationale: "", note: "" };
}
