/**
 * Parsing and validation of profile files (format: deploy/PROFILES.md). A user file is layered over the
 * shipped defaults: its rules are tried first, a rule with the id of a default rule replaces it, and its
 * fallback fields override the default fallback's. Every problem in a file is reported at once.
 */
import { parse as parseYaml } from "yaml";
import {
  checkArray,
  checkEnum,
  checkKeys,
  checkNumber,
  checkObject,
  checkString,
  type Json,
  ProblemList,
} from "./check.js";
import { DEFAULT_PROFILES } from "./default-profiles.js";
import {
  ABILITIES,
  type Ability,
  DOMAINS,
  type DomainNumbers,
  EVALUATION_MODES,
  type ParamsCurve,
  type ParseResult,
  type ProfileFallback,
  type ProfileFile,
  type ProfileMatch,
  type ProfileRule,
  type RawTemplates,
} from "./types.js";

/** Limits that keep a profile file small enough to reason about (and bound every string and array). */
export const PROFILE_LIMITS = {
  maxRules: 256,
  maxTags: 32,
  maxTagLength: 32,
  maxIdLength: 64,
  maxPatternLength: 200,
  maxDescriptionLength: 500,
  maxTemplateLength: 2000,
  maxVerdicts: 16,
  maxVerdictTokenLength: 16,
  maxRawTokens: 4096,
  maxTextChars: 1_000_000,
} as const;

const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const TAG = /^[a-z0-9][a-z0-9-]*$/;
const PLACEHOLDER = /\{[^{}]*\}/g;

function checkTags(value: unknown, path: string, p: ProblemList): string[] | undefined {
  const items = checkArray(value, path, p, PROFILE_LIMITS.maxTags);
  if (!items) return undefined;
  const tags: string[] = [];
  items.forEach((item, i) => {
    const tag = checkString(item, `${path}[${i}]`, p, { maxLength: PROFILE_LIMITS.maxTagLength });
    if (tag === undefined) return;
    if (!TAG.test(tag)) p.add(`${path}[${i}]`, `tag "${tag}" must be lower-case letters, digits and '-'`);
    else if (tags.includes(tag)) p.add(`${path}[${i}]`, `duplicate tag "${tag}"`);
    else tags.push(tag);
  });
  return tags;
}

function checkAbilities(value: unknown, path: string, p: ProblemList): Ability[] | undefined {
  const items = checkArray(value, path, p, ABILITIES.length);
  if (!items) return undefined;
  const out: Ability[] = [];
  items.forEach((item, i) => {
    const a = checkEnum(item, ABILITIES, `${path}[${i}]`, p);
    if (a !== undefined && out.includes(a)) p.add(`${path}[${i}]`, `duplicate ability "${a}"`);
    else if (a !== undefined) out.push(a);
  });
  return out;
}

function checkDomainNumbers(
  value: unknown,
  path: string,
  p: ProblemList,
  min: number,
  max: number,
): DomainNumbers | undefined {
  const obj = checkObject(value, path, p);
  if (!obj) return undefined;
  checkKeys(obj, DOMAINS, path, p);
  const out: Partial<Record<(typeof DOMAINS)[number], number>> = {};
  for (const d of DOMAINS) {
    if (obj[d] === undefined) continue;
    const n = checkNumber(obj[d], `${path}.${d}`, p, { min, max });
    if (n !== undefined) out[d] = n;
  }
  return out;
}

function checkPattern(value: unknown, path: string, p: ProblemList): string | undefined {
  return checkString(value, path, p, { maxLength: PROFILE_LIMITS.maxPatternLength });
}

function checkMatch(value: unknown, path: string, p: ProblemList): ProfileMatch | undefined {
  const obj = checkObject(value, path, p);
  if (!obj) return undefined;
  checkKeys(obj, ["name", "nameRegex", "family", "architecture", "minParams", "maxParams"], path, p);
  const m: { -readonly [K in keyof ProfileMatch]: ProfileMatch[K] } = {};
  if (obj.name !== undefined) m.name = checkPattern(obj.name, `${path}.name`, p);
  if (obj.nameRegex !== undefined) {
    const src = checkPattern(obj.nameRegex, `${path}.nameRegex`, p);
    if (src !== undefined) {
      try {
        new RegExp(src, "i");
        m.nameRegex = src;
      } catch (err) {
        p.add(`${path}.nameRegex`, `is not a valid regular expression (${(err as Error).message})`);
      }
    }
  }
  if (obj.family !== undefined) m.family = checkPattern(obj.family, `${path}.family`, p);
  if (obj.architecture !== undefined)
    m.architecture = checkPattern(obj.architecture, `${path}.architecture`, p);
  if (obj.minParams !== undefined)
    m.minParams = checkNumber(obj.minParams, `${path}.minParams`, p, { min: 0 });
  if (obj.maxParams !== undefined)
    m.maxParams = checkNumber(obj.maxParams, `${path}.maxParams`, p, { min: 0 });
  if (m.minParams !== undefined && m.maxParams !== undefined && m.minParams > m.maxParams)
    p.add(path, `minParams ${m.minParams} is greater than maxParams ${m.maxParams}`);
  const conditions = ["name", "nameRegex", "family", "architecture", "minParams", "maxParams"];
  if (!conditions.some((k) => obj[k] !== undefined))
    p.add(path, `needs at least one condition (${conditions.join(", ")})`);
  return m;
}

function checkTemplate(value: unknown, path: string, p: ProblemList, required: string[]): string | undefined {
  const t = checkString(value, path, p, { maxLength: PROFILE_LIMITS.maxTemplateLength });
  if (t === undefined) return undefined;
  for (const ph of t.match(PLACEHOLDER) ?? []) {
    if (ph !== "{task}" && ph !== "{candidate}")
      p.add(path, `unknown placeholder ${ph} (known: {task}, {candidate})`);
  }
  for (const r of required) if (!t.includes(r)) p.add(path, `must contain ${r}`);
  return t;
}

function checkTemplates(value: unknown, path: string, p: ProblemList): RawTemplates | undefined {
  const obj = checkObject(value, path, p);
  if (!obj) return undefined;
  checkKeys(obj, ["propose", "verify", "score", "verdicts", "maxTokens"], path, p);
  const t: { -readonly [K in keyof RawTemplates]: RawTemplates[K] } = {};
  if (obj.propose !== undefined) t.propose = checkTemplate(obj.propose, `${path}.propose`, p, ["{task}"]);
  if (obj.verify !== undefined)
    t.verify = checkTemplate(obj.verify, `${path}.verify`, p, ["{task}", "{candidate}"]);
  if (obj.score !== undefined) {
    t.score = checkTemplate(obj.score, `${path}.score`, p, ["{task}"]);
    // The candidate is the continuation being scored, so it cannot also be part of the prefix.
    if (t.score?.includes("{candidate}"))
      p.add(`${path}.score`, "must not contain {candidate}: the candidate is the scored continuation");
  }
  if (obj.verdicts !== undefined) {
    const v = checkObject(obj.verdicts, `${path}.verdicts`, p);
    if (v) {
      const entries = Object.entries(v);
      if (entries.length === 0 || entries.length > PROFILE_LIMITS.maxVerdicts)
        p.add(
          `${path}.verdicts`,
          `must have 1 to ${PROFILE_LIMITS.maxVerdicts} entries, has ${entries.length}`,
        );
      const verdicts: Record<string, number> = {};
      for (const [token, weight] of entries) {
        if (token.length === 0 || token.length > PROFILE_LIMITS.maxVerdictTokenLength)
          p.add(`${path}.verdicts`, `verdict token "${token}" must be 1 to 16 characters`);
        const w = checkNumber(weight, `${path}.verdicts.${token}`, p, { min: -100, max: 100 });
        if (w !== undefined) verdicts[token] = w;
      }
      t.verdicts = verdicts;
    }
    if (obj.verify === undefined) p.add(`${path}.verdicts`, "needs a verify template to apply to");
  }
  if (obj.verify !== undefined && obj.verdicts === undefined)
    p.add(`${path}.verify`, 'needs a verdicts map (e.g. {"Y": 100, "N": -100})');
  if (obj.maxTokens !== undefined) {
    const mt = checkObject(obj.maxTokens, `${path}.maxTokens`, p);
    if (mt) {
      checkKeys(mt, ["propose", "verify"], `${path}.maxTokens`, p);
      const lim = { min: 1, max: PROFILE_LIMITS.maxRawTokens, integer: true };
      const out: { propose?: number; verify?: number } = {};
      if (mt.propose !== undefined)
        out.propose = checkNumber(mt.propose, `${path}.maxTokens.propose`, p, lim);
      if (mt.verify !== undefined) out.verify = checkNumber(mt.verify, `${path}.maxTokens.verify`, p, lim);
      t.maxTokens = out;
    }
  }
  return t;
}

const RULE_KEYS = [
  "id",
  "description",
  "match",
  "tags",
  "abilities",
  "quality",
  "qualityOffset",
  "evaluationMode",
  "templates",
];

function checkRule(value: unknown, path: string, p: ProblemList): ProfileRule | undefined {
  const obj = checkObject(value, path, p);
  if (!obj) return undefined;
  checkKeys(obj, RULE_KEYS, path, p);
  const id = checkString(obj.id, `${path}.id`, p, { maxLength: PROFILE_LIMITS.maxIdLength });
  if (id !== undefined && !RULE_ID.test(id))
    p.add(`${path}.id`, `"${id}" may only contain letters, digits, '.', '_' and '-'`);
  if (obj.description !== undefined)
    checkString(obj.description, `${path}.description`, p, {
      maxLength: PROFILE_LIMITS.maxDescriptionLength,
    });
  const match = checkMatch(obj.match, `${path}.match`, p);
  const rule: { -readonly [K in keyof ProfileRule]: ProfileRule[K] } = { id: id ?? "", match: match ?? {} };
  if (typeof obj.description === "string") rule.description = obj.description;
  if (obj.tags !== undefined) rule.tags = checkTags(obj.tags, `${path}.tags`, p);
  if (obj.abilities !== undefined) rule.abilities = checkAbilities(obj.abilities, `${path}.abilities`, p);
  if (obj.quality !== undefined) rule.quality = checkDomainNumbers(obj.quality, `${path}.quality`, p, 0, 1);
  if (obj.qualityOffset !== undefined)
    rule.qualityOffset = checkDomainNumbers(obj.qualityOffset, `${path}.qualityOffset`, p, -1, 1);
  if (obj.evaluationMode !== undefined)
    rule.evaluationMode = checkEnum(obj.evaluationMode, EVALUATION_MODES, `${path}.evaluationMode`, p);
  if (obj.templates !== undefined) rule.templates = checkTemplates(obj.templates, `${path}.templates`, p);
  if (
    rule.evaluationMode === "likelihood" &&
    rule.templates !== undefined &&
    rule.templates.score === undefined
  )
    p.add(`${path}.templates`, 'evaluationMode "likelihood" with raw templates needs a score template');
  return rule;
}

const CURVE_KEYS: readonly (keyof ParamsCurve)[] = [
  "referenceParams",
  "atReference",
  "perDecade",
  "min",
  "max",
  "unknown",
];

function checkCurve(value: unknown, path: string, p: ProblemList): Partial<ParamsCurve> | undefined {
  const obj = checkObject(value, path, p);
  if (!obj) return undefined;
  checkKeys(obj, CURVE_KEYS, path, p);
  const out: Partial<Record<keyof ParamsCurve, number>> = {};
  for (const k of CURVE_KEYS) {
    if (obj[k] === undefined) continue;
    const n = checkNumber(
      obj[k],
      `${path}.${k}`,
      p,
      k === "referenceParams" ? { min: 1 } : { min: 0, max: 1 },
    );
    if (n !== undefined) out[k] = n;
  }
  return out;
}

type FallbackInput = Partial<Omit<ProfileFallback, "curve">> & { curve?: Partial<ParamsCurve> };

const FALLBACK_KEYS = [
  "tags",
  "abilities",
  "curve",
  "domainOffset",
  "evaluationMode",
  "smallModelMaxParams",
  "smallModelEvaluationMode",
];

function checkFallback(value: unknown, path: string, p: ProblemList): FallbackInput | undefined {
  const obj = checkObject(value, path, p);
  if (!obj) return undefined;
  checkKeys(obj, FALLBACK_KEYS, path, p);
  const f: { -readonly [K in keyof FallbackInput]: FallbackInput[K] } = {};
  if (obj.tags !== undefined) f.tags = checkTags(obj.tags, `${path}.tags`, p);
  if (obj.abilities !== undefined) f.abilities = checkAbilities(obj.abilities, `${path}.abilities`, p);
  if (obj.curve !== undefined) f.curve = checkCurve(obj.curve, `${path}.curve`, p);
  if (obj.domainOffset !== undefined)
    f.domainOffset = checkDomainNumbers(obj.domainOffset, `${path}.domainOffset`, p, -1, 1);
  if (obj.evaluationMode !== undefined)
    f.evaluationMode = checkEnum(obj.evaluationMode, EVALUATION_MODES, `${path}.evaluationMode`, p);
  if (obj.smallModelMaxParams !== undefined)
    f.smallModelMaxParams = checkNumber(obj.smallModelMaxParams, `${path}.smallModelMaxParams`, p, {
      min: 0,
    });
  if (obj.smallModelEvaluationMode !== undefined)
    f.smallModelEvaluationMode = checkEnum(
      obj.smallModelEvaluationMode,
      EVALUATION_MODES,
      `${path}.smallModelEvaluationMode`,
      p,
    );
  return f;
}

function completeFallback(
  input: FallbackInput | undefined,
  base: ProfileFallback | undefined,
  p: ProblemList,
): ProfileFallback | undefined {
  const curve = { ...base?.curve, ...input?.curve };
  const merged = { ...base, ...input, curve };
  const missing: string[] = [];
  for (const k of [
    "tags",
    "abilities",
    "evaluationMode",
    "smallModelMaxParams",
    "smallModelEvaluationMode",
  ]) {
    if ((merged as Json)[k] === undefined) missing.push(k);
  }
  for (const k of CURVE_KEYS) if (curve[k] === undefined) missing.push(`curve.${k}`);
  if (missing.length > 0) {
    p.add("fallback", `is incomplete without the defaults; missing ${missing.join(", ")}`);
    return undefined;
  }
  if (curve.min !== undefined && curve.max !== undefined && curve.min > curve.max)
    p.add("fallback.curve", `min ${curve.min} is greater than max ${curve.max}`);
  return merged as ProfileFallback;
}

/**
 * Validates a parsed profile file (any JSON/YAML value) and layers it over `defaults` — the shipped
 * profiles unless given (pass `null` to require a complete file) — unless the file says
 * `"inheritDefaults": false`. Lists every problem found.
 */
export function parseProfileFile(
  value: unknown,
  defaults: ProfileFile | null = DEFAULT_PROFILES,
): ParseResult<ProfileFile> {
  const p = new ProblemList();
  const obj = checkObject(value, "", p);
  if (!obj) return { ok: false, problems: p.items };
  checkKeys(obj, ["$schema", "version", "description", "inheritDefaults", "rules", "fallback"], "", p);
  if (obj.version !== 1) p.add("version", `must be 1, got ${JSON.stringify(obj.version) ?? "nothing"}`);
  if (obj.inheritDefaults !== undefined && typeof obj.inheritDefaults !== "boolean")
    p.add("inheritDefaults", "must be true or false");
  const inherit = obj.inheritDefaults !== false && defaults !== null;
  const rules: ProfileRule[] = [];
  const items = obj.rules === undefined ? [] : checkArray(obj.rules, "rules", p, PROFILE_LIMITS.maxRules);
  const seen = new Map<string, number>();
  items?.forEach((item, i) => {
    const rule = checkRule(item, `rules[${i}]`, p);
    if (!rule) return;
    const first = seen.get(rule.id);
    if (first !== undefined && rule.id !== "")
      p.add(`rules[${i}].id`, `duplicate id "${rule.id}" (also rules[${first}])`);
    seen.set(rule.id, i);
    rules.push(rule);
  });
  const fallbackInput = obj.fallback === undefined ? undefined : checkFallback(obj.fallback, "fallback", p);
  const fallback = completeFallback(fallbackInput, inherit ? defaults?.fallback : undefined, p);
  if (!p.empty || !fallback) return { ok: false, problems: p.items };
  const inherited = inherit ? (defaults?.rules ?? []).filter((r) => !seen.has(r.id)) : [];
  return { ok: true, value: { version: 1, rules: [...rules, ...inherited], fallback } };
}

/** Parses profile text: YAML or JSON (YAML is a superset of JSON). */
export function parseProfileText(
  text: string,
  defaults: ProfileFile | null = DEFAULT_PROFILES,
): ParseResult<ProfileFile> {
  if (text.length > PROFILE_LIMITS.maxTextChars)
    return {
      ok: false,
      problems: [`profile file is ${text.length} characters; the limit is ${PROFILE_LIMITS.maxTextChars}`],
    };
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    return { ok: false, problems: [`not valid YAML or JSON: ${(err as Error).message}`] };
  }
  return parseProfileFile(value, defaults);
}
