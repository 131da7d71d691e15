/**
 * Model profiles: what the coordinator believes about a model before (and while) it has seen it work —
 * capability tags, per-domain quality priors, and how the deliberation engine should talk to it.
 * The file format is documented in deploy/PROFILES.md.
 */

/** Task domains with their own quality prior. Anything else is treated as `general`. */
export const DOMAINS = ["general", "math", "code", "review"] as const;
export type Domain = (typeof DOMAINS)[number];

/**
 * What a model can do in a deliberation. `propose`: write a candidate answer; `evaluate`: judge other
 * candidates (in its profile's evaluation mode); `synthesize`: write a free-form aggregation of several
 * answers (MoA aggregator, council chairman). Tiny task models can propose and evaluate but not synthesize.
 */
export const ABILITIES = ["propose", "evaluate", "synthesize"] as const;
export type Ability = (typeof ABILITIES)[number];

/**
 * How an evaluator scores peers' candidates (BRIEF §5 step 3).
 * - `batch`: one structured-output call scoring every candidate.
 * - `per-candidate`: one short verdict call per candidate (small models cope better).
 * - `likelihood`: the evaluator's own probability of producing the candidate (needs a scoring backend).
 */
export const EVALUATION_MODES = ["batch", "per-candidate", "likelihood"] as const;
export type EvaluationMode = (typeof EVALUATION_MODES)[number];

/** Placeholders allowed in raw templates. */
export const TEMPLATE_PLACEHOLDERS = ["{task}", "{candidate}"] as const;

/**
 * Raw-completion templates for models without a chat format (e.g. the arithmetic test models).
 * When present the deliberation engine feeds these as plain text (no chat wrapper).
 * Placeholders: `{task}` (the task text) and `{candidate}` (a peer's answer).
 */
export interface RawTemplates {
  /** Prompt whose completion is a proposal, e.g. `Q {task}=`. */
  propose?: string;
  /** Prompt whose completion is a verdict token, e.g. `V {task}={candidate} ?`. */
  verify?: string;
  /**
   * Prefix for likelihood scoring: the evaluator scores P(candidate, then end of sequence | prefix),
   * e.g. `Q {task}=`.
   */
  score?: string;
  /** Verdict token → endorsement weight in [-100, 100], e.g. {"Y": 100, "N": -100}. */
  verdicts?: Readonly<Record<string, number>>;
  /** Completion token limits for raw calls. */
  maxTokens?: { propose?: number; verify?: number };
}

/** Conditions of a rule; every condition given must hold. Globs: `*` any run, `?` one character. */
export interface ProfileMatch {
  /** Case-insensitive glob on the model name, e.g. `*qwen2.5*coder*`. */
  name?: string;
  /** Case-insensitive regular expression searched in the model name, e.g. `qwen[-_ ]?3`. */
  nameRegex?: string;
  /** Case-insensitive glob on the model family (e.g. `qwen2`, `llama`, `gemma3`). */
  family?: string;
  /** Case-insensitive glob on the GGUF architecture. */
  architecture?: string;
  /** Inclusive parameter-count bounds; a model with unknown (0) parameters never meets them. */
  minParams?: number;
  maxParams?: number;
}

export type DomainNumbers = Readonly<Partial<Record<Domain, number>>>;

/** One rule of a profile file. Rules are tried in order; the first match wins. */
export interface ProfileRule {
  /** Unique id, named in resolution reasons ("matched rule qwen2.5-coder"). */
  id: string;
  description?: string;
  match: ProfileMatch;
  /** Capability tags (general, math, code, review, chat, reasoning, …). @default fallback.tags */
  tags?: readonly string[];
  /** @default fallback.abilities */
  abilities?: readonly Ability[];
  /** Absolute per-domain priors in [0, 1]; win over the parameter curve for the domains given. */
  quality?: DomainNumbers;
  /** Added to the parameter-curve prior (then clamped to the curve's [min, max]) for domains without `quality`. */
  qualityOffset?: DomainNumbers;
  /** @default by parameter count, see ProfileFallback */
  evaluationMode?: EvaluationMode;
  templates?: RawTemplates;
}

/**
 * The parameter-count prior: `clamp(atReference + perDecade × log10(params / referenceParams), min, max)`.
 * Log-scaled because quality grows roughly with the log of model size; capped because a big model is not
 * infallible and the online update should always be able to move it.
 */
export interface ParamsCurve {
  /** @default 7e9 */
  referenceParams: number;
  /** @default 0.55 */
  atReference: number;
  /** @default 0.2 */
  perDecade: number;
  /** @default 0.02 */
  min: number;
  /** @default 0.85 */
  max: number;
  /** Prior when the parameter count is unknown (0). @default 0.3 */
  unknown: number;
}

/** What a model gets when no rule says otherwise. */
export interface ProfileFallback {
  tags: readonly string[];
  abilities: readonly Ability[];
  curve: ParamsCurve;
  /** Added to the curve per domain for every model (rules' offsets are added on top). */
  domainOffset?: DomainNumbers;
  evaluationMode: EvaluationMode;
  /** Models with at most this many (known) parameters use `smallModelEvaluationMode`. @default 4e9 */
  smallModelMaxParams: number;
  /** @default "per-candidate" */
  smallModelEvaluationMode: EvaluationMode;
}

export interface ProfileFile {
  version: 1;
  rules: readonly ProfileRule[];
  fallback: ProfileFallback;
}

/** What resolution needs to know about a model (all of it comes from telemetry). */
export interface ModelIdentity {
  name: string;
  family?: string;
  architecture?: string;
  /** 0 or undefined = unknown. */
  parameterCount?: number;
  /** When false, `likelihood` evaluation is downgraded to `per-candidate`. Undefined = unknown (kept). */
  supportsScoring?: boolean;
}

export interface ResolvedProfile {
  /** The rule that matched, or null when the fallback applied. */
  ruleId: string | null;
  /** Plain words: "matched rule qwen2.5 (nameRegex /qwen[-_ ]?2/)" or "no rule matched; fallback by params …". */
  reason: string;
  tags: readonly string[];
  abilities: readonly Ability[];
  /** Priors in [0, 1] per domain (before online updates). */
  quality: Readonly<Record<Domain, number>>;
  evaluationMode: EvaluationMode;
  templates: RawTemplates | null;
}

/** Result of every parser in this module: the value, or every problem found. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; problems: string[] };

export function isDomain(value: string): value is Domain {
  return (DOMAINS as readonly string[]).includes(value);
}

/** Unknown domains count as `general`. */
export function toDomain(value: string): Domain {
  const lower = value.toLowerCase();
  return isDomain(lower) ? lower : "general";
}
