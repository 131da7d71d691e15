/**
 * Online learning of model quality and worker reliability. Pure: every update returns new stats; the
 * coordinator persists them with `serializeQualityStats` / `parseQualityStats` (I/O is the caller's).
 *
 * Quality, per (model, domain): each deliberation outcome becomes an observation in [0, 1] —
 * `(1 − winWeight)·(support + 1)/2 + winWeight·won` — folded into an EWMA (recent rounds matter more, as
 * prompts, quantisation and peers change). The EWMA is then blended with the profile prior by a shrinkage
 * weight n/(n + priorStrength), where n is the EWMA's effective sample size min(count, (2 − α)/α): a handful
 * of rounds nudges a prior, a long record replaces it, and a single lucky win cannot.
 *
 * Reliability, per worker: a Beta-smoothed success ratio of requests the coordinator sent it
 * `(successes + s0) / (successes + failures + s0 + f0)`, so a new worker starts near s0/(s0+f0) instead of
 * at 0 or 1 after its first request.
 */
import type { WorkerId } from "../../../proto/src/ids.js";
import { checkArray, checkKeys, checkNumber, checkObject, checkString, ProblemList } from "./check.js";
import { DOMAINS, type Domain, type ModelIdentity, type ParseResult } from "./types.js";

/** One (model, domain) record. */
export interface DomainQualityStat {
  /** EWMA of observations in [0, 1]. */
  ewma: number;
  /** Observations folded in. */
  count: number;
  /** Rounds won. */
  wins: number;
}

export interface ReliabilityStat {
  successes: number;
  failures: number;
}

export interface QualityStats {
  /** Keyed by `modelKey()`. */
  models: ReadonlyMap<string, Readonly<Partial<Record<Domain, DomainQualityStat>>>>;
  workers: ReadonlyMap<WorkerId, ReliabilityStat>;
}

export interface OnlineUpdateOptions {
  /** EWMA weight of a new observation. @default 0.1 */
  alpha?: number;
  /** Share of an observation that comes from winning rather than from peer support. @default 0.25 */
  winWeight?: number;
  /** How many observations the prior is worth. @default 5 */
  priorStrength?: number;
  /** Pseudo-successes of a new worker. @default 19 */
  reliabilityPriorSuccesses?: number;
  /** Pseudo-failures of a new worker (19 : 1 → a new worker starts at 0.95). @default 1 */
  reliabilityPriorFailures?: number;
}

export type OnlineUpdateConfig = Required<OnlineUpdateOptions>;

export const DEFAULT_ONLINE_UPDATE: OnlineUpdateConfig = {
  alpha: 0.1,
  winWeight: 0.25,
  priorStrength: 5,
  reliabilityPriorSuccesses: 19,
  reliabilityPriorFailures: 1,
};

export function resolveOnlineUpdate(options: OnlineUpdateOptions = {}): OnlineUpdateConfig {
  return { ...DEFAULT_ONLINE_UPDATE, ...options };
}

export function emptyQualityStats(): QualityStats {
  return { models: new Map(), workers: new Map() };
}

/**
 * The key quality is learnt under: lower-cased name plus parameter count, so the same model on two workers
 * shares what is learnt, and two different models that happen to share a GGUF name ("LLaMA v2") do not.
 */
export function modelKey(model: Pick<ModelIdentity, "name" | "parameterCount">): string {
  return `${model.name.trim().toLowerCase()}#${model.parameterCount ?? 0}`;
}

/** A deliberation outcome for one seat: the net support it received and whether it won the round. */
export interface DeliberationOutcome {
  modelKey: string;
  domain: Domain;
  /** Net peer support in [-1, 1] (values outside are clamped). */
  support: number;
  won: boolean;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/** The observation in [0, 1] that one outcome contributes. */
export function outcomeObservation(outcome: DeliberationOutcome, config: OnlineUpdateConfig): number {
  const support = Number.isFinite(outcome.support) ? clamp(outcome.support, -1, 1) : 0;
  return (1 - config.winWeight) * ((support + 1) / 2) + config.winWeight * (outcome.won ? 1 : 0);
}

export function recordDeliberationOutcome(
  stats: QualityStats,
  outcome: DeliberationOutcome,
  options: OnlineUpdateOptions = {},
): QualityStats {
  const config = resolveOnlineUpdate(options);
  const obs = outcomeObservation(outcome, config);
  const perDomain = stats.models.get(outcome.modelKey) ?? {};
  const prev = perDomain[outcome.domain];
  // The first observation seeds the EWMA; the prior enters only through the shrinkage in effectiveQuality.
  const next: DomainQualityStat = prev
    ? {
        ewma: prev.ewma + config.alpha * (obs - prev.ewma),
        count: prev.count + 1,
        wins: prev.wins + (outcome.won ? 1 : 0),
      }
    : { ewma: obs, count: 1, wins: outcome.won ? 1 : 0 };
  const models = new Map(stats.models);
  models.set(outcome.modelKey, { ...perDomain, [outcome.domain]: next });
  return { models, workers: stats.workers };
}

export function recordRequestOutcome(stats: QualityStats, workerId: WorkerId, ok: boolean): QualityStats {
  const prev = stats.workers.get(workerId) ?? { successes: 0, failures: 0 };
  const workers = new Map(stats.workers);
  workers.set(workerId, {
    successes: prev.successes + (ok ? 1 : 0),
    failures: prev.failures + (ok ? 0 : 1),
  });
  return { models: stats.models, workers };
}

/** Effective sample size of an EWMA with weight α: its variance equals a plain mean of (2 − α)/α samples. */
export function ewmaEffectiveSamples(count: number, alpha: number): number {
  return Math.min(count, (2 - alpha) / alpha);
}

/** The prior blended with what was learnt (the prior itself when nothing was). */
export function effectiveQuality(
  prior: number,
  stat: DomainQualityStat | undefined,
  options: OnlineUpdateOptions = {},
): number {
  if (!stat || stat.count <= 0) return prior;
  const config = resolveOnlineUpdate(options);
  const n = ewmaEffectiveSamples(stat.count, config.alpha);
  const w = n / (n + config.priorStrength);
  return clamp(prior + w * (stat.ewma - prior), 0, 1);
}

/** Per-domain quality of a model: priors blended with its learnt record. */
export function qualityWithStats(
  priors: Readonly<Record<Domain, number>>,
  stats: QualityStats,
  key: string,
  options: OnlineUpdateOptions = {},
): Record<Domain, number> {
  const learnt = stats.models.get(key);
  const out = {} as Record<Domain, number>;
  for (const d of DOMAINS) out[d] = effectiveQuality(priors[d], learnt?.[d], options);
  return out;
}

export function reliabilityOf(
  stats: QualityStats,
  workerId: WorkerId,
  options: OnlineUpdateOptions = {},
): number {
  const config = resolveOnlineUpdate(options);
  const r = stats.workers.get(workerId) ?? { successes: 0, failures: 0 };
  const s0 = config.reliabilityPriorSuccesses;
  const f0 = config.reliabilityPriorFailures;
  return (r.successes + s0) / (r.successes + r.failures + s0 + f0);
}

/** Bounds of the persisted form. */
export const STATS_LIMITS = { maxModelEntries: 20_000, maxWorkers: 10_000, maxKeyLength: 300 } as const;

interface StatsJson {
  version: 1;
  models: { model: string; domain: Domain; ewma: number; count: number; wins: number }[];
  workers: { workerId: string; successes: number; failures: number }[];
}

/** JSON text for persistence (sorted, so equal stats give equal text). */
export function serializeQualityStats(stats: QualityStats): string {
  const out: StatsJson = { version: 1, models: [], workers: [] };
  for (const key of [...stats.models.keys()].sort()) {
    const perDomain = stats.models.get(key) ?? {};
    for (const d of DOMAINS) {
      const s = perDomain[d];
      if (s) out.models.push({ model: key, domain: d, ewma: s.ewma, count: s.count, wins: s.wins });
    }
  }
  for (const id of [...stats.workers.keys()].sort()) {
    const r = stats.workers.get(id);
    if (r) out.workers.push({ workerId: id, successes: r.successes, failures: r.failures });
  }
  return JSON.stringify(out);
}

/** Parses persisted stats, listing every problem at once. */
export function parseQualityStats(text: string): ParseResult<QualityStats> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, problems: [`not valid JSON: ${(err as Error).message}`] };
  }
  const p = new ProblemList();
  const obj = checkObject(value, "", p);
  if (!obj) return { ok: false, problems: p.items };
  checkKeys(obj, ["version", "models", "workers"], "", p);
  if (obj.version !== 1) p.add("version", `must be 1, got ${JSON.stringify(obj.version) ?? "nothing"}`);
  const models = new Map<string, Partial<Record<Domain, DomainQualityStat>>>();
  const count = { min: 0, integer: true };
  checkArray(obj.models, "models", p, STATS_LIMITS.maxModelEntries)?.forEach((item, i) => {
    const path = `models[${i}]`;
    const e = checkObject(item, path, p);
    if (!e) return;
    checkKeys(e, ["model", "domain", "ewma", "count", "wins"], path, p);
    const key = checkString(e.model, `${path}.model`, p, { maxLength: STATS_LIMITS.maxKeyLength });
    const domain = e.domain;
    if (typeof domain !== "string" || !(DOMAINS as readonly string[]).includes(domain))
      p.add(`${path}.domain`, `must be one of ${DOMAINS.join(", ")}, got ${JSON.stringify(domain)}`);
    const ewma = checkNumber(e.ewma, `${path}.ewma`, p, { min: 0, max: 1 });
    const n = checkNumber(e.count, `${path}.count`, p, count);
    const wins = checkNumber(e.wins, `${path}.wins`, p, count);
    if (n !== undefined && wins !== undefined && wins > n) p.add(path, `wins ${wins} exceed count ${n}`);
    if (key === undefined || ewma === undefined || n === undefined || wins === undefined) return;
    const d = domain as Domain;
    const perDomain = models.get(key) ?? {};
    if (perDomain[d]) p.add(path, `duplicate entry for ${key} / ${d}`);
    perDomain[d] = { ewma, count: n, wins };
    models.set(key, perDomain);
  });
  const workers = new Map<WorkerId, ReliabilityStat>();
  checkArray(obj.workers, "workers", p, STATS_LIMITS.maxWorkers)?.forEach((item, i) => {
    const path = `workers[${i}]`;
    const e = checkObject(item, path, p);
    if (!e) return;
    checkKeys(e, ["workerId", "successes", "failures"], path, p);
    const id = checkString(e.workerId, `${path}.workerId`, p, { maxLength: STATS_LIMITS.maxKeyLength });
    const s = checkNumber(e.successes, `${path}.successes`, p, count);
    const f = checkNumber(e.failures, `${path}.failures`, p, count);
    if (id === undefined || s === undefined || f === undefined) return;
    if (workers.has(id as WorkerId)) p.add(path, `duplicate entry for worker ${id}`);
    workers.set(id as WorkerId, { successes: s, failures: f });
  });
  if (!p.empty) return { ok: false, problems: p.items };
  return { ok: true, value: { models, workers } };
}
