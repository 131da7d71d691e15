/**
 * The batch evaluation's output contract: a bounded JSON schema sent to the worker (grammar-enforced on
 * llama) and a validator that lists every problem, because the worker's enforcement is not trusted. Pure.
 */
import { ClaimVerdict, Stance } from "../../../proto/gen/conclave/v1/deliberation_pb.js";

/** Bounds of the evaluation output. Tiny models fill unbounded strings until the token limit. */
export const EVALUATION_LIMITS = {
  critique: 600,
  claimText: 200,
  claims: 4,
} as const;

const STANCES: Readonly<Record<string, Stance>> = {
  support: Stance.SUPPORT,
  oppose: Stance.OPPOSE,
  neutral: Stance.NEUTRAL,
};

const VERDICTS: Readonly<Record<string, ClaimVerdict>> = {
  verified: ClaimVerdict.VERIFIED,
  contested: ClaimVerdict.CONTESTED,
  wrong: ClaimVerdict.WRONG,
  unclear: ClaimVerdict.UNCLEAR,
};

/** The JSON schema for one evaluator scoring `aliases` (exactly one entry per alias). */
export function evaluationJsonSchema(aliases: readonly string[]): Record<string, unknown> {
  return {
    type: "object",
    additionalProperties: false,
    required: ["evaluations"],
    properties: {
      evaluations: {
        type: "array",
        minItems: aliases.length,
        maxItems: aliases.length,
        items: {
          type: "object",
          additionalProperties: false,
          required: ["candidate", "weight", "stance", "claims", "critique"],
          properties: {
            candidate: { type: "string", enum: [...aliases] },
            weight: { type: "integer", minimum: -100, maximum: 100 },
            stance: { type: "string", enum: Object.keys(STANCES) },
            claims: {
              type: "array",
              maxItems: EVALUATION_LIMITS.claims,
              items: {
                type: "object",
                additionalProperties: false,
                required: ["text", "verdict"],
                properties: {
                  text: { type: "string", maxLength: EVALUATION_LIMITS.claimText },
                  verdict: { type: "string", enum: Object.keys(VERDICTS) },
                },
              },
            },
            critique: { type: "string", maxLength: EVALUATION_LIMITS.critique },
          },
        },
      },
    },
  };
}

export interface ParsedClaim {
  text: string;
  verdict: ClaimVerdict;
}

export interface ParsedCandidateEvaluation {
  alias: string;
  /** Rounded to an integer in [-100, 100]. */
  weight: number;
  stance: Stance;
  claims: ParsedClaim[];
  critique: string;
}

export type EvaluationParse =
  | { ok: true; evaluations: ParsedCandidateEvaluation[] }
  | { ok: false; problems: string[] };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Parses JSON, tolerating a Markdown code fence or prose around one top-level object. */
export function parseJsonLenient(
  text: string,
): { ok: true; value: unknown } | { ok: false; problem: string } {
  const trimmed = text.trim();
  // Each reading is tried only when the ones before it failed (grammar-constrained output is plain JSON).
  const readings: Array<() => string | undefined> = [
    () => trimmed,
    () => /```(?:json)?\s*([\s\S]*?)```/i.exec(trimmed)?.[1]?.trim(),
    () => {
      const first = trimmed.indexOf("{");
      const last = trimmed.lastIndexOf("}");
      return first >= 0 && last > first ? trimmed.slice(first, last + 1) : undefined;
    },
  ];
  let problem = "output is empty";
  for (const read of readings) {
    const c = read();
    if (c === undefined || c === "") continue;
    try {
      return { ok: true, value: JSON.parse(c) };
    } catch (e) {
      problem = `output is not valid JSON (${e instanceof Error ? e.message : String(e)})`;
    }
  }
  return { ok: false, problem };
}

function checkString(
  value: unknown,
  path: string,
  maxLength: number,
  problems: string[],
): string | undefined {
  if (typeof value !== "string") {
    problems.push(`${path} must be a string`);
    return undefined;
  }
  if (value.length > maxLength) problems.push(`${path} is longer than ${maxLength} characters`);
  return value;
}

function parseClaims(value: unknown, path: string, problems: string[]): ParsedClaim[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    problems.push(`${path} must be an array`);
    return [];
  }
  if (value.length > EVALUATION_LIMITS.claims) {
    problems.push(`${path} has ${value.length} items; at most ${EVALUATION_LIMITS.claims} allowed`);
  }
  const out: ParsedClaim[] = [];
  value.forEach((c, k) => {
    if (!isRecord(c)) {
      problems.push(`${path}[${k}] must be an object`);
      return;
    }
    const text = checkString(c.text, `${path}[${k}].text`, EVALUATION_LIMITS.claimText, problems);
    const verdict = typeof c.verdict === "string" ? VERDICTS[c.verdict.toLowerCase()] : undefined;
    if (verdict === undefined) {
      problems.push(`${path}[${k}].verdict must be one of ${Object.keys(VERDICTS).join(", ")}`);
    }
    if (text !== undefined && verdict !== undefined) out.push({ text, verdict });
  });
  return out;
}

/**
 * Validates one evaluator's output against the aliases it was shown. Every problem is listed (they go back
 * to the model on the retry). Weights need only be finite numbers in range; fractions are rounded.
 */
export function parseEvaluationOutput(text: string, aliases: readonly string[]): EvaluationParse {
  const json = parseJsonLenient(text);
  if (!json.ok) return { ok: false, problems: [json.problem] };
  const problems: string[] = [];
  const root = json.value;
  const list = isRecord(root) ? root.evaluations : undefined;
  if (!Array.isArray(list)) return { ok: false, problems: ["`evaluations` must be an array"] };
  const wanted = new Set(aliases);
  const seen = new Set<string>();
  const out: ParsedCandidateEvaluation[] = [];
  list.forEach((item, k) => {
    const path = `evaluations[${k}]`;
    if (!isRecord(item)) {
      problems.push(`${path} must be an object`);
      return;
    }
    const alias = typeof item.candidate === "string" ? item.candidate.trim() : undefined;
    if (alias === undefined) problems.push(`${path}.candidate must be a string`);
    else if (!wanted.has(alias))
      problems.push(`${path}.candidate "${alias.slice(0, 40)}" is not a candidate`);
    else if (seen.has(alias)) problems.push(`${path}.candidate "${alias}" is scored twice`);
    const w = item.weight;
    const weightOk = typeof w === "number" && Number.isFinite(w) && w >= -100 && w <= 100;
    if (!weightOk) problems.push(`${path}.weight must be an integer from -100 to 100`);
    const stance = typeof item.stance === "string" ? STANCES[item.stance.toLowerCase()] : undefined;
    if (stance === undefined)
      problems.push(`${path}.stance must be one of ${Object.keys(STANCES).join(", ")}`);
    const claims = parseClaims(item.claims, `${path}.claims`, problems);
    const critique = checkString(
      item.critique ?? "",
      `${path}.critique`,
      EVALUATION_LIMITS.critique,
      problems,
    );
    if (alias !== undefined && wanted.has(alias) && !seen.has(alias)) {
      seen.add(alias);
      if (weightOk && stance !== undefined && critique !== undefined) {
        out.push({ alias, weight: Math.round(w as number), stance, claims, critique });
      }
    }
  });
  for (const a of aliases) if (!seen.has(a)) problems.push(`"${a}" is missing`);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, evaluations: out };
}
