/** Plan requests: validation (every problem at once) and defaults, resolved once. */
import { ConclaveError, ErrorCode } from "../../../proto/src/errors.js";
import { ABILITIES, type Ability, DOMAINS, type Domain } from "../profiles/types.js";
import type { BrokerWorker, PlanRequest, RoleSpec, TokenEstimate } from "./types.js";

export class BrokerRequestError extends ConclaveError {
  override readonly name = "BrokerRequestError";
  constructor(problems: readonly string[]) {
    super(ErrorCode.INVALID_ARGUMENT, `invalid plan request: ${problems.join("; ")}`, { details: problems });
  }
}

export const BROKER_LIMITS = {
  maxRoles: 32,
  maxSeatsPerRole: 256,
  maxWorkers: 4096,
  maxNameLength: 64,
} as const;

export interface ResolvedRole {
  index: number;
  /** Role class (see ResolvedClass). */
  cls: number;
  name: string;
  min: number;
  max: number;
  agent: boolean;
  abilities: readonly Ability[];
  requiredTags: readonly string[];
  weight: number;
  tokens: TokenEstimate;
}

/**
 * Roles whose seats are worth the same and cost the same on any worker (same agent flag, weight and token
 * estimate) form a class: they differ only in who may take them and in their min/max. The solver decides
 * how many seats of each class each worker gets and checks by bipartite matching that the seats can be
 * labelled with roles within every role's [min, max] — which removes the huge number of equivalent
 * "who is `math`, who is `agent`" permutations from the search.
 */
export interface ResolvedClass {
  index: number;
  agent: boolean;
  weight: number;
  tokens: TokenEstimate;
  roles: readonly number[];
  minTotal: number;
  maxTotal: number;
}

export interface ResolvedRequest {
  roles: readonly ResolvedRole[];
  classes: readonly ResolvedClass[];
  domain: Domain;
  latencyBudgetSeconds: number;
  computeBudgetSeconds: number;
  energyBudgetJoules: number;
  diversityCap: number;
  minAgents: number;
  repeatDecay: number;
  offDomainFactor: number;
  concurrencySlowdown: number;
  assumedPowerWatts: number | undefined;
  maxNodes: number;
}

function finite(x: unknown): x is number {
  return typeof x === "number" && Number.isFinite(x);
}

function checkTokens(t: TokenEstimate | undefined, path: string, out: string[]): void {
  if (!t) {
    out.push(`${path} is missing`);
    return;
  }
  if (!finite(t.prompt) || t.prompt < 0)
    out.push(`${path}.prompt must be a non-negative number, got ${t.prompt}`);
  if (!finite(t.completion) || t.completion < 0)
    out.push(`${path}.completion must be a non-negative number, got ${t.completion}`);
}

function optionalRange(name: string, v: number | undefined, lo: number, hi: number, out: string[]): void {
  if (v !== undefined && !(finite(v) && v >= lo && v <= hi))
    out.push(`${name} must be in [${lo}, ${hi}], got ${v}`);
}

function optionalPositive(name: string, v: number | undefined, out: string[]): void {
  if (v !== undefined && !(finite(v) && v > 0)) out.push(`${name} must be a positive number, got ${v}`);
}

function roleProblems(role: RoleSpec, i: number, out: string[]): void {
  const path = `roles[${i}] (${role.name})`;
  if (
    typeof role.name !== "string" ||
    role.name.length === 0 ||
    role.name.length > BROKER_LIMITS.maxNameLength
  )
    out.push(`roles[${i}].name must be 1 to ${BROKER_LIMITS.maxNameLength} characters`);
  const intIn = (v: number) => Number.isInteger(v) && v >= 0 && v <= BROKER_LIMITS.maxSeatsPerRole;
  if (!intIn(role.min)) out.push(`${path}.min must be an integer in [0, ${BROKER_LIMITS.maxSeatsPerRole}]`);
  if (!intIn(role.max)) out.push(`${path}.max must be an integer in [0, ${BROKER_LIMITS.maxSeatsPerRole}]`);
  if (intIn(role.min) && intIn(role.max) && role.min > role.max)
    out.push(`${path}: min ${role.min} is greater than max ${role.max}`);
  for (const a of role.abilities ?? [])
    if (!(ABILITIES as readonly string[]).includes(a)) out.push(`${path}: unknown ability "${a}"`);
  if ((role.requiredTags ?? []).length > 32) out.push(`${path}: more than 32 required tags`);
  optionalRange(`${path}.weight`, role.weight, 0, 1000, out);
  if (role.tokens) checkTokens(role.tokens, `${path}.tokens`, out);
}

/** Every problem with a worker's numbers (the broker refuses to guess). */
export function workerProblems(w: BrokerWorker, i: number): string[] {
  const out: string[] = [];
  const path = `workers[${i}] (${w.workerId})`;
  if (!Number.isInteger(w.slots) || w.slots < 0) out.push(`${path}.slots must be a non-negative integer`);
  for (const [k, v] of [
    ["prefillTokensPerSecond", w.prefillTokensPerSecond],
    ["generationTokensPerSecond", w.generationTokensPerSecond],
  ] as const)
    if (!finite(v) || v < 0) out.push(`${path}.${k} must be a non-negative number, got ${v}`);
  if (w.overheadSeconds !== undefined && !(finite(w.overheadSeconds) && w.overheadSeconds >= 0))
    out.push(`${path}.overheadSeconds must be a non-negative number`);
  if (w.powerWatts !== undefined && !(finite(w.powerWatts) && w.powerWatts >= 0))
    out.push(`${path}.powerWatts must be a non-negative number`);
  optionalRange(`${path}.concurrencySlowdown`, w.concurrencySlowdown, 0, 1, out);
  optionalRange(`${path}.reliability`, w.reliability, 0, 1, out);
  if (w.reliability === undefined) out.push(`${path}.reliability is missing`);
  for (const d of DOMAINS) {
    const q = w.quality?.[d];
    if (!(finite(q) && q >= 0 && q <= 1)) out.push(`${path}.quality.${d} must be in [0, 1], got ${q}`);
  }
  return out;
}

/** Validates the workers and the request together and resolves defaults; throws with every problem. */
export function resolveRequest(workers: readonly BrokerWorker[], req: PlanRequest): ResolvedRequest {
  const out: string[] = [];
  if (workers.length > BROKER_LIMITS.maxWorkers)
    out.push(`${workers.length} workers; the limit is ${BROKER_LIMITS.maxWorkers}`);
  const ids = new Set<string>();
  workers.forEach((w, i) => {
    if (ids.has(w.workerId)) out.push(`workers[${i}]: duplicate worker id ${w.workerId}`);
    ids.add(w.workerId);
    out.push(...workerProblems(w, i));
  });
  if (req.roles.length === 0) out.push("roles is empty");
  if (req.roles.length > BROKER_LIMITS.maxRoles)
    out.push(`${req.roles.length} roles; the limit is ${BROKER_LIMITS.maxRoles}`);
  const names = new Set<string>();
  req.roles.forEach((r, i) => {
    if (names.has(r.name)) out.push(`roles[${i}]: duplicate role name "${r.name}"`);
    names.add(r.name);
    roleProblems(r, i, out);
  });
  if (!(DOMAINS as readonly string[]).includes(req.domain))
    out.push(`domain must be one of ${DOMAINS.join(", ")}, got "${req.domain}"`);
  checkTokens(req.tokens, "tokens", out);
  optionalPositive("latencyBudgetSeconds", req.latencyBudgetSeconds, out);
  optionalPositive("computeBudgetSeconds", req.computeBudgetSeconds, out);
  optionalPositive("energyBudgetJoules", req.energyBudgetJoules, out);
  if (req.diversityCap !== undefined && !(Number.isInteger(req.diversityCap) && req.diversityCap >= 1))
    out.push(`diversityCap must be an integer ≥ 1, got ${req.diversityCap}`);
  if (req.minAgents !== undefined && !(Number.isInteger(req.minAgents) && req.minAgents >= 0))
    out.push(`minAgents must be a non-negative integer, got ${req.minAgents}`);
  optionalRange("repeatDecay", req.repeatDecay, 0, 1, out);
  optionalRange("offDomainFactor", req.offDomainFactor, 0, 1, out);
  optionalRange("concurrencySlowdown", req.concurrencySlowdown, 0, 1, out);
  if (req.assumedPowerWatts !== undefined && !(finite(req.assumedPowerWatts) && req.assumedPowerWatts >= 0))
    out.push(`assumedPowerWatts must be a non-negative number, got ${req.assumedPowerWatts}`);
  if (req.maxNodes !== undefined && !(Number.isInteger(req.maxNodes) && req.maxNodes >= 1))
    out.push(`maxNodes must be a positive integer, got ${req.maxNodes}`);
  if (out.length > 0) throw new BrokerRequestError(out);

  const classes: ResolvedClass[] = [];
  const roles: ResolvedRole[] = req.roles.map((r, index) => {
    const agent = r.agent ?? true;
    const weight = r.weight ?? 1;
    const tokens = r.tokens ?? req.tokens;
    let cls = classes.find(
      (c) =>
        c.agent === agent &&
        c.weight === weight &&
        c.tokens.prompt === tokens.prompt &&
        c.tokens.completion === tokens.completion,
    );
    if (!cls) {
      cls = { index: classes.length, agent, weight, tokens, roles: [], minTotal: 0, maxTotal: 0 };
      classes.push(cls);
    }
    (cls.roles as number[]).push(index);
    cls.minTotal += r.min;
    cls.maxTotal += r.max;
    return {
      index,
      cls: cls.index,
      name: r.name,
      min: r.min,
      max: r.max,
      agent,
      abilities: r.abilities ?? (agent ? ["propose"] : ["synthesize"]),
      requiredTags: r.requiredTags ?? [],
      weight,
      tokens,
    };
  });
  return {
    roles,
    classes,
    domain: req.domain,
    latencyBudgetSeconds: req.latencyBudgetSeconds ?? Number.POSITIVE_INFINITY,
    computeBudgetSeconds: req.computeBudgetSeconds ?? Number.POSITIVE_INFINITY,
    energyBudgetJoules: req.energyBudgetJoules ?? Number.POSITIVE_INFINITY,
    diversityCap: req.diversityCap ?? Number.POSITIVE_INFINITY,
    minAgents: req.minAgents ?? 2,
    repeatDecay: req.repeatDecay ?? 0.8,
    offDomainFactor: req.offDomainFactor ?? 0.85,
    concurrencySlowdown: req.concurrencySlowdown ?? 0.25,
    assumedPowerWatts: req.assumedPowerWatts,
    maxNodes: req.maxNodes ?? 250_000,
  };
}
