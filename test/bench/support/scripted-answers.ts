/**
 * What the benchmarks' scripted agents answer: valid NSED proposals ({answer, rationale} JSON) and valid
 * batch evaluations (one entry per alias the evaluation schema lists), deterministic in their seeds, so
 * every round is a real round (no retries, no abstentions) and every run is the same. Pure.
 */
import type { GenerateRequest } from "../../../worker/src/backends/types.js";

/** Plain words: no model, family or host names, so the identity scrubber never changes an answer. */
const WORDS = [
  "light",
  "scatters",
  "more",
  "at",
  "short",
  "wavelengths",
  "so",
  "the",
  "sky",
  "looks",
  "blue",
  "because",
  "air",
  "molecules",
  "are",
  "much",
  "smaller",
  "than",
  "visible",
  "waves",
  "and",
  "sunsets",
  "turn",
  "red",
  "when",
  "path",
  "through",
  "atmosphere",
  "grows",
  "longer",
  "violet",
  "is",
  "absorbed",
  "our",
  "eyes",
  "favour",
  "this",
  "band",
  "of",
  "color",
] as const;

/** A small deterministic hash of a string to 32 bits (FNV-1a). */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** `n` words picked by a seeded sequence. */
export function words(seed: string, n: number): string {
  let h = hash32(seed);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    h = (h + 0x6d2b79f5) >>> 0;
    out.push(WORDS[h % WORDS.length] ?? "light");
  }
  return out.join(" ");
}

/** How long the scripted texts are, in words. */
export interface AnswerShape {
  readonly answerWords: number;
  readonly rationaleWords: number;
  readonly critiqueWords: number;
  /** Words of the one pivotal claim each evaluation entry carries. */
  readonly claimWords: number;
}

export type RequestKind = "propose" | "evaluate" | "other";

interface SchemaLike {
  properties?: Record<string, unknown>;
}

/** Which NSED call a request is, read from the JSON schema the engine attached. */
export function requestKind(req: GenerateRequest): RequestKind {
  const props = (req.jsonSchema as SchemaLike | undefined)?.properties;
  if (props === undefined) return "other";
  if ("evaluations" in props) return "evaluate";
  if ("answer" in props) return "propose";
  return "other";
}

/** The candidate aliases an evaluation schema allows (exactly one entry each is required). */
export function evaluationAliases(req: GenerateRequest): string[] {
  const schema = req.jsonSchema as
    | { properties?: { evaluations?: { items?: { properties?: { candidate?: { enum?: unknown } } } } } }
    | undefined;
  const list = schema?.properties?.evaluations?.items?.properties?.candidate?.enum;
  return Array.isArray(list) ? list.filter((x): x is string => typeof x === "string") : [];
}

/** A proposal: a fresh answer per (agent, call), so later rounds carry new text into the state view. */
export function proposalReply(agent: string, call: number, shape: AnswerShape): string {
  return JSON.stringify({
    answer: words(`${agent}/answer/${call}`, shape.answerWords),
    rationale: words(`${agent}/rationale/${call}`, shape.rationaleWords),
  });
}

/** A batch evaluation scoring every alias, weights spread over the bands so rounds have a clear winner. */
export function evaluationReply(
  agent: string,
  call: number,
  aliases: readonly string[],
  shape: AnswerShape,
): string {
  return JSON.stringify({
    evaluations: aliases.map((alias) => {
      const weight = (hash32(`${agent}/${call}/${alias}`) % 161) - 60;
      return {
        candidate: alias,
        weight,
        stance: weight > 10 ? "support" : weight < -10 ? "oppose" : "neutral",
        claims: [
          {
            text: words(`${agent}/${call}/${alias}/claim`, shape.claimWords),
            verdict: weight > 0 ? "verified" : "contested",
          },
        ],
        critique: words(`${agent}/${call}/${alias}/critique`, shape.critiqueWords),
      };
    }),
  });
}

/** The scripted backend's `respond`: a valid reply for whichever NSED call this is. */
export function scriptedReply(
  agent: string,
  shape: AnswerShape,
): (req: GenerateRequest, call: number) => string {
  return (req, call) => {
    const kind = requestKind(req);
    if (kind === "evaluate") return evaluationReply(agent, call, evaluationAliases(req), shape);
    return proposalReply(agent, call, shape);
  };
}
