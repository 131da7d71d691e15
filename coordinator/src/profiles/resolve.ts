/**
 * Profile resolution: (name, family, parameters) → the profile the broker and the deliberation engine use,
 * with the reason in plain words. Pure; rules are tried in file order and the first match wins.
 */
import { globMatches } from "./glob.js";
import {
  DOMAINS,
  type Domain,
  type EvaluationMode,
  type ModelIdentity,
  type ParamsCurve,
  type ProfileFile,
  type ProfileMatch,
  type ProfileRule,
  type ResolvedProfile,
} from "./types.js";

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/** "7.6B", "292.8K": parameter counts as people write them. */
export function formatParams(params: number | undefined): string {
  if (params === undefined || params <= 0) return "unknown size";
  const units: [number, string][] = [
    [1e12, "T"],
    [1e9, "B"],
    [1e6, "M"],
    [1e3, "K"],
  ];
  for (const [scale, unit] of units) {
    if (params >= scale) return `${Number((params / scale).toFixed(1))}${unit}`;
  }
  return String(params);
}

/** The log-scaled, capped prior by parameter count (see ParamsCurve). */
export function paramsPrior(curve: ParamsCurve, params: number | undefined): number {
  if (params === undefined || !(params > 0)) return curve.unknown;
  const raw = curve.atReference + curve.perDecade * Math.log10(params / curve.referenceParams);
  return clamp(raw, curve.min, curve.max);
}

function knownParams(model: ModelIdentity): number | undefined {
  const p = model.parameterCount;
  return p !== undefined && p > 0 ? p : undefined;
}

/** Why `rule` matches `model`, or undefined when it does not. */
export function ruleMatch(match: ProfileMatch, model: ModelIdentity): string | undefined {
  const why: string[] = [];
  if (match.name !== undefined) {
    if (!globMatches(match.name, model.name)) return undefined;
    why.push(`name ~ ${match.name}`);
  }
  if (match.nameRegex !== undefined) {
    if (!new RegExp(match.nameRegex, "i").test(model.name)) return undefined;
    why.push(`name ~ /${match.nameRegex}/i`);
  }
  if (match.family !== undefined) {
    if (!globMatches(match.family, model.family ?? "")) return undefined;
    why.push(`family ~ ${match.family}`);
  }
  if (match.architecture !== undefined) {
    if (!globMatches(match.architecture, model.architecture ?? "")) return undefined;
    why.push(`architecture ~ ${match.architecture}`);
  }
  const params = knownParams(model);
  if (match.minParams !== undefined || match.maxParams !== undefined) {
    if (params === undefined) return undefined;
    if (match.minParams !== undefined && params < match.minParams) return undefined;
    if (match.maxParams !== undefined && params > match.maxParams) return undefined;
    why.push(
      `params ${formatParams(params)} in [${formatParams(match.minParams ?? 0)}, ${
        match.maxParams === undefined ? "∞" : formatParams(match.maxParams)
      }]`,
    );
  }
  return why.length > 0 ? why.join(", ") : undefined;
}

function evaluationModeFor(file: ProfileFile, rule: ProfileRule | undefined, params: number | undefined) {
  const fb = file.fallback;
  if (rule?.evaluationMode !== undefined) return { mode: rule.evaluationMode, why: "" };
  if (params !== undefined && params <= fb.smallModelMaxParams)
    return {
      mode: fb.smallModelEvaluationMode,
      why: `${fb.smallModelEvaluationMode} evaluation for models ≤ ${formatParams(fb.smallModelMaxParams)}`,
    };
  return { mode: fb.evaluationMode, why: "" };
}

/** Resolves the profile of one model against a (validated) profile file. */
export function resolveProfile(file: ProfileFile, model: ModelIdentity): ResolvedProfile {
  const fb = file.fallback;
  const params = knownParams(model);
  let rule: ProfileRule | undefined;
  let matchedBy: string | undefined;
  for (const r of file.rules) {
    matchedBy = ruleMatch(r.match, model);
    if (matchedBy !== undefined) {
      rule = r;
      break;
    }
  }
  const base = paramsPrior(fb.curve, params);
  const quality = {} as Record<Domain, number>;
  for (const d of DOMAINS) {
    const absolute = rule?.quality?.[d];
    const offset = (fb.domainOffset?.[d] ?? 0) + (rule?.qualityOffset?.[d] ?? 0);
    quality[d] = absolute ?? clamp(base + offset, fb.curve.min, fb.curve.max);
  }
  const em = evaluationModeFor(file, rule, params);
  let mode: EvaluationMode = em.mode;
  const notes: string[] = [];
  if (em.why !== "") notes.push(em.why);
  if (mode === "likelihood" && model.supportsScoring === false) {
    mode = "per-candidate";
    notes.push("likelihood evaluation downgraded to per-candidate: the backend cannot score");
  }
  const prior = `params prior ${base.toFixed(2)} (${formatParams(params)})`;
  const fixed = DOMAINS.filter((d) => rule?.quality?.[d] !== undefined);
  const priors =
    fixed.length === DOMAINS.length
      ? "fixed priors"
      : `${prior}${rule?.qualityOffset ? " + rule offsets" : ""}${fixed.length > 0 ? `; fixed ${fixed.join(", ")}` : ""}`;
  const reason = rule
    ? `matched rule ${rule.id} (${matchedBy}); ${priors}`
    : `no rule matched "${model.name}"${model.family ? ` (family ${model.family})` : ""}; fallback by params: ${prior}`;
  return {
    ruleId: rule?.id ?? null,
    reason: notes.length > 0 ? `${reason}; ${notes.join("; ")}` : reason,
    tags: rule?.tags ?? fb.tags,
    abilities: rule?.abilities ?? fb.abilities,
    quality,
    evaluationMode: mode,
    templates: rule?.templates ?? null,
  };
}
