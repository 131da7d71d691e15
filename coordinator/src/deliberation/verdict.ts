/** Per-candidate verdicts: one short call per peer, the reply mapped to a weight by the profile. Pure. */
import { parseJsonLenient } from "./evaluation-schema.js";

/** The verdict map for chat models (they answer through a one-field JSON schema). */
export const DEFAULT_CHAT_VERDICTS: Readonly<Record<string, number>> = { yes: 100, no: -100, unsure: 0 };

/** JSON schema for a chat model's verdict: exactly one of the map's words. */
export function verdictJsonSchema(verdicts: Readonly<Record<string, number>>): Record<string, unknown> {
  return {
    type: "object",
    additionalProperties: false,
    required: ["verdict"],
    properties: { verdict: { type: "string", enum: Object.keys(verdicts) } },
  };
}

function lookup(word: string, verdicts: Readonly<Record<string, number>>): number | undefined {
  const exact = verdicts[word];
  if (exact !== undefined) return exact;
  const folded = Object.keys(verdicts).filter((k) => k.toLowerCase() === word.toLowerCase());
  // Only a unique case-insensitive match counts: a map with both `Y` and `y` stays exact.
  return folded.length === 1 ? verdicts[folded[0] as string] : undefined;
}

/** Bytes the grammar may spend on whitespace in `{"verdict": "…"}`: a newline plus indentation per gap. */
const VERDICT_WHITESPACE_BYTES = 32;

/**
 * Completion tokens a grammar-constrained chat verdict needs to complete, EOS included. Every token is at
 * least one byte, so the byte length of the longest reply the schema allows bounds the token count, on any
 * tokenizer: `{ "verdict": "unsure" }` is 18 tokens on stories260K (512-token vocabulary), so a cap of 16
 * cut it off after the value and the reply could not be parsed.
 */
export function verdictTokenBound(verdicts: Readonly<Record<string, number>>): number {
  const utf8 = new TextEncoder();
  const longest = Math.max(0, ...Object.keys(verdicts).map((w) => utf8.encode(JSON.stringify(w)).length));
  return utf8.encode('{"verdict":}').length + longest + VERDICT_WHITESPACE_BYTES + 1;
}

/** `{"verdict": "yes"` and the like: an object whose first member is a closed `verdict` string. */
const VERDICT_PREFIX = /^\{\s*"verdict"\s*:\s*("(?:[^"\\]|\\.)*")/;

/**
 * The weight a verdict reply stands for, or undefined when the reply is not one of the map's words.
 * Accepts a bare word (`Y`, raw models) or `{"verdict": "yes"}` (chat models); trailing punctuation is ignored.
 * A JSON reply cut off after its value (`{ "verdict": "yes"`) still counts: the string is closed, so the
 * value is all there. An unclosed string (`{"verdict": "ye`) never does: no verdict is ever guessed.
 */
export function mapVerdict(output: string, verdicts: Readonly<Record<string, number>>): number | undefined {
  const text = output.trim();
  if (text.startsWith("{")) {
    const json = parseJsonLenient(text);
    if (json.ok && typeof json.value === "object" && json.value !== null && "verdict" in json.value) {
      const v = (json.value as { verdict: unknown }).verdict;
      return typeof v === "string" ? lookup(v.trim(), verdicts) : undefined;
    }
    const literal = VERDICT_PREFIX.exec(text)?.[1];
    if (literal === undefined) return undefined;
    try {
      const v: unknown = JSON.parse(literal);
      return typeof v === "string" ? lookup(v.trim(), verdicts) : undefined;
    } catch {
      return undefined;
    }
  }
  const first = text.split(/\s+/)[0] ?? "";
  return lookup(first.replace(/[.,;:!?"'`]+$/, ""), verdicts);
}
