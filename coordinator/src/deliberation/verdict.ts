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

/**
 * The weight a verdict reply stands for, or undefined when the reply is not one of the map's words.
 * Accepts a bare word (`Y`, raw models) or `{"verdict": "yes"}` (chat models); trailing punctuation is ignored.
 */
export function mapVerdict(output: string, verdicts: Readonly<Record<string, number>>): number | undefined {
  const text = output.trim();
  if (text.startsWith("{")) {
    const json = parseJsonLenient(text);
    if (json.ok && typeof json.value === "object" && json.value !== null && "verdict" in json.value) {
      const v = (json.value as { verdict: unknown }).verdict;
      return typeof v === "string" ? lookup(v.trim(), verdicts) : undefined;
    }
    return undefined;
  }
  const first = text.split(/\s+/)[0] ?? "";
  return lookup(first.replace(/[.,;:!?"'`]+$/, ""), verdicts);
}
