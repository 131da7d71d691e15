/**
 * Where the broker meets the rest: strategy → role specs, wire PlanRequest → broker request, broker plan →
 * wire Plan, and the deliberation engine's SeatProvider (the broker over the live registry). Pure
 * functions, except the provider's closure over the registry.
 */
import { create } from "@bufbuild/protobuf";
import {
  EvaluationMode,
  type JobSpec,
  JobSpecSchema,
  Strategy,
} from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import {
  PlanSchema,
  SeatRole,
  type Plan as WirePlan,
  type PlanRequest as WirePlanRequest,
} from "../../../proto/gen/conclave/v1/plan_pb.js";
import { ConclaveError, ErrorCode } from "../../../proto/src/errors.js";
import { seatRoleNames, strategyNames } from "../../../proto/src/names.js";
import {
  type Plan as BrokerPlan,
  type PlanRequest as BrokerPlanRequest,
  type BrokerWorkerInput,
  brokerWorkersFromRegistry,
  plan,
  type RoleSpec,
  type TokenEstimate,
} from "../broker/index.js";
import {
  type AgentProfile,
  QUORUM,
  type RoleDemand,
  resolveParams,
  type SeatInfo,
  type SeatProvider,
} from "../deliberation/index.js";
import { type ProfileFile, type QualityStats, type ResolvedProfile, toDomain } from "../profiles/index.js";
import type { RegistryState } from "../registry/index.js";

/** The seats each strategy asks for (mirrors the engine's strategies; used for plan previews). */
export function roleDemandsFor(spec: JobSpec): RoleDemand[] {
  const p = resolveParams(spec);
  switch (spec.strategy) {
    case Strategy.SINGLE:
      return [{ role: SeatRole.SOLO, count: 1, min: 1 }];
    case Strategy.MOA:
      return [
        { role: SeatRole.PROPOSER, count: p.agents, min: 1 },
        { role: SeatRole.AGGREGATOR, count: 1, min: 1 },
      ];
    case Strategy.SELF_MOA:
    case Strategy.SELF_MOA_SEQ:
      return [
        {
          role: SeatRole.PROPOSER,
          count: spec.strategy === Strategy.SELF_MOA_SEQ ? p.window : p.agents,
          min: 1,
          sameModel: true,
        },
        { role: SeatRole.AGGREGATOR, count: 1, min: 1 },
      ];
    case Strategy.COUNCIL:
      return [
        { role: SeatRole.AGENT, count: p.agents, min: QUORUM },
        { role: SeatRole.CHAIRMAN, count: 1, min: 1 },
      ];
    default:
      return [{ role: SeatRole.AGENT, count: p.agents, min: QUORUM }];
  }
}

/** Expected tokens one seat reads and writes per round, from the strategy's parameters. */
export function tokenEstimate(spec: JobSpec, rawModelsOnly: boolean): TokenEstimate {
  if (rawModelsOnly) return { prompt: 16, completion: 4 };
  const p = resolveParams(spec);
  const taskTokens = Math.ceil(spec.task.length / 4);
  return {
    prompt: taskTokens + (spec.strategy === Strategy.NSED ? p.stateTokenBudget / 2 : 200),
    completion: p.maxTokens,
  };
}

function roleSpec(d: RoleDemand, strategy: Strategy, tokens: TokenEstimate, proposals: number): RoleSpec {
  const synth = d.role === SeatRole.AGGREGATOR || d.role === SeatRole.CHAIRMAN;
  const evaluates = strategy === Strategy.NSED || strategy === Strategy.COUNCIL;
  return {
    name: seatRoleNames.name(d.role),
    min: d.min,
    max: d.count,
    agent: !synth,
    abilities: synth ? ["synthesize"] : evaluates ? ["propose", "evaluate"] : ["propose"],
    // An aggregator reads every proposal.
    ...(synth
      ? { tokens: { prompt: tokens.prompt + proposals * tokens.completion, completion: tokens.completion } }
      : {}),
  };
}

/** Tokens/s assumed for a worker that has not measured its speed yet. */
export const ASSUMED_SPEED = { prefill: 100, generation: 10 } as const;

export interface PlannerInputs {
  registry: RegistryState;
  profiles: ProfileFile;
  stats?: QualityStats;
  nowMs: number;
}

export interface PlanOutcome {
  plan: BrokerPlan;
  inputs: BrokerWorkerInput[];
  solveMs: number;
}

/** Seats a set of role demands on the live workers with the broker. */
export function planFor(
  spec: JobSpec,
  demands: readonly RoleDemand[],
  inputs: PlannerInputs,
  options: {
    excludeWorkerIds?: readonly string[];
    seatedWorkerIds?: readonly string[];
    familyCap?: number;
  } = {},
): PlanOutcome {
  const workers = brokerWorkersFromRegistry(inputs.registry, {
    profiles: inputs.profiles,
    nowMs: inputs.nowMs,
    ...(inputs.stats ? { stats: inputs.stats } : {}),
  });
  const excluded = new Set(options.excludeWorkerIds ?? []);
  // Seats this job already holds use slots that telemetry may not show as taken yet (one entry per seat).
  const held = new Map<string, number>();
  for (const id of options.seatedWorkerIds ?? []) held.set(id, (held.get(id) ?? 0) + 1);
  for (const w of workers) {
    if (excluded.has(w.worker.workerId)) w.worker.unavailableReason = "failed earlier in this job";
    // A worker not measured yet (self-bench off, an upstream before its first request) is planned at a
    // deliberately slow assumed speed: seatable, but never preferred over a measured one on speed.
    if (!(w.worker.prefillTokensPerSecond > 0)) w.worker.prefillTokensPerSecond = ASSUMED_SPEED.prefill;
    if (!(w.worker.generationTokensPerSecond > 0))
      w.worker.generationTokensPerSecond = ASSUMED_SPEED.generation;
    const mine = held.get(w.worker.workerId) ?? 0;
    if (mine > 0) w.worker.slots = Math.max(0, w.worker.slots - mine);
  }
  const domain = toDomain(spec.domain || "general");
  if (demands.some((d) => d.sameModel)) {
    // Self-MoA: every seat is the single best model for the domain (possibly one worker several times).
    const best = workers
      .filter(
        (w) =>
          w.worker.unavailableReason === undefined &&
          w.worker.slots > 0 &&
          w.worker.abilities.includes("propose"),
      )
      .sort(
        (a, b) =>
          b.worker.quality[domain] * b.worker.reliability - a.worker.quality[domain] * a.worker.reliability ||
          b.worker.generationTokensPerSecond - a.worker.generationTokensPerSecond,
      )[0];
    if (best) {
      for (const w of workers) {
        if (w.worker.modelKey !== best.worker.modelKey && w.worker.unavailableReason === undefined)
          w.worker.unavailableReason = `self-moa uses only the best model for ${domain} (${best.worker.modelName})`;
      }
    }
  }
  const rawOnly = workers.length > 0 && workers.every((w) => w.profile.templates?.propose);
  const tokens = tokenEstimate(spec, rawOnly);
  const proposals = demands
    .filter((d) => d.role !== SeatRole.AGGREGATOR && d.role !== SeatRole.CHAIRMAN)
    .reduce((n, d) => n + d.count, 0);
  const b = spec.budgets;
  const request: BrokerPlanRequest = {
    roles: demands.map((d) => roleSpec(d, spec.strategy, tokens, proposals)),
    domain,
    tokens,
    minAgents: Math.min(...demands.map((d) => d.min), QUORUM),
    ...(demands.some((d) => d.sameModel) ? { repeatDecay: 1 } : {}),
    ...(b && b.roundLatencySeconds > 0 ? { latencyBudgetSeconds: b.roundLatencySeconds } : {}),
    ...(b && b.computeSeconds > 0 ? { computeBudgetSeconds: b.computeSeconds } : {}),
    ...(b && b.energyJoules > 0 ? { energyBudgetJoules: b.energyJoules } : {}),
    ...(options.familyCap && options.familyCap > 0 ? { diversityCap: options.familyCap } : {}),
  };
  const t0 = performance.now();
  const result = plan(
    workers.map((w) => w.worker),
    request,
  );
  return { plan: result, inputs: workers, solveMs: performance.now() - t0 };
}

export function toWirePlan(outcome: PlanOutcome, nowMs: number): WirePlan {
  const p = outcome.plan;
  const roleOf = (name: string) => seatRoleNames.parse(name) ?? SeatRole.UNSPECIFIED;
  return create(PlanSchema, {
    seats: p.seats.map((s) => ({
      role: roleOf(s.role),
      index: s.seatIndex,
      workerId: s.workerId,
      modelName: s.modelName,
      family: s.family,
      value: s.value,
      expectedSeconds: s.expectedSeconds,
      expectedJoules: s.costJoules ?? 0,
      reason: s.reason,
    })),
    excluded: p.exclusions.map((e) => ({ workerId: e.workerId, modelName: e.modelName, reason: e.reason })),
    totalValue: p.status === "ok" ? p.totals.value : 0,
    totalSeconds: p.status === "ok" ? p.totals.computeSeconds : 0,
    totalJoules: p.status === "ok" ? (p.totals.energyJoules ?? 0) : 0,
    infeasibleReason:
      p.status === "infeasible" ? [p.reason, ...p.problems.filter((x) => x !== p.reason)].join("; ") : "",
    solveMs: outcome.solveMs,
    plannedAtUnixMs: BigInt(Math.round(nowMs)),
  });
}

/** The `conclave plan` preview: a job spec built from the plan request, seated as a job would be. */
export function previewSpec(req: WirePlanRequest): JobSpec {
  const strategy = strategyNames.parse(req.strategy || "nsed");
  if (strategy === undefined) {
    throw new ConclaveError(
      ErrorCode.INVALID_ARGUMENT,
      `strategy "${req.strategy}" is not one of ${strategyNames.names.join(", ")}`,
    );
  }
  return create(JobSpecSchema, {
    task: "plan preview",
    strategy,
    domain: req.domain || "general",
    params: { agents: req.agents },
    ...(req.budgets ? { budgets: req.budgets } : {}),
  });
}

const MODES: Record<ResolvedProfile["evaluationMode"], EvaluationMode> = {
  batch: EvaluationMode.BATCH,
  "per-candidate": EvaluationMode.PER_CANDIDATE,
  likelihood: EvaluationMode.LIKELIHOOD,
};

/** What the engine needs from a resolved model profile. Pure. */
export function agentProfileOf(
  profile: ResolvedProfile,
  identity: { family: string; architecture: string; contextLength?: number },
): AgentProfile {
  const t = profile.templates;
  const raw = t?.propose !== undefined;
  return {
    format: raw ? "raw" : "chat",
    evaluationMode: MODES[profile.evaluationMode],
    ...(raw ? { templates: { propose: t?.propose ?? "", ...(t?.verify ? { verify: t.verify } : {}) } } : {}),
    ...(t?.verdicts ? { verdicts: t.verdicts } : {}),
    canAggregate: profile.abilities.includes("synthesize"),
    ...(raw ? { maxTokens: { propose: 6, verdict: 2 }, likelihoodBasis: "total" as const } : {}),
    identityTerms: [identity.family, identity.architecture].filter((x) => x.length > 2),
    // Tokens per slot: the engine fits every prompt it sends to this seat into it.
    ...(identity.contextLength ? { contextLength: identity.contextLength } : {}),
  };
}

/** The broker as the engine's SeatProvider, for one job. */
export function brokerSeatProvider(
  spec: JobSpec,
  inputs: () => PlannerInputs,
  options: { familyCap?: number } = {},
): SeatProvider {
  return {
    poolVersion() {
      // The workers that could take a seat now: a join, a departure or a death changes it.
      return [...inputs().registry.workers.values()]
        .filter((w) => w.state === "ready" || w.state === "busy")
        .map((w) => w.workerId as string)
        .sort()
        .join(",");
    },
    async seat(req) {
      const now = inputs();
      const outcome = planFor(spec, req.roles, now, {
        excludeWorkerIds: req.excludeWorkerIds,
        seatedWorkerIds: req.seatedWorkerIds,
        ...(options.familyCap ? { familyCap: options.familyCap } : {}),
      });
      const p = outcome.plan;
      if (p.status === "infeasible") {
        const why = p.exclusions.map((e) => `${e.workerId}: ${e.reason}`).join("; ");
        throw new ConclaveError(
          ErrorCode.FAILED_PRECONDITION,
          `no valid seating: ${p.reason}${why ? ` (${why})` : ""}`,
          { details: p.problems },
        );
      }
      const byId = new Map(outcome.inputs.map((i) => [i.worker.workerId as string, i]));
      return p.seats.map((s): SeatInfo => {
        const input = byId.get(s.workerId);
        const record = now.registry.workers.get(s.workerId);
        const model = record?.observation.model;
        return {
          seat: {
            $typeName: "conclave.v1.Seat",
            seatId: "",
            role: seatRoleNames.parse(s.role) ?? SeatRole.AGENT,
            workerId: s.workerId,
            modelName: s.modelName,
          },
          ...(record?.observation.host ? { host: record.observation.host } : {}),
          profile: input
            ? agentProfileOf(input.profile, {
                family: model?.family ?? "",
                architecture: model?.architecture ?? "",
                ...(model?.contextLength ? { contextLength: model.contextLength } : {}),
              })
            : { format: "chat", evaluationMode: EvaluationMode.BATCH, canAggregate: true },
        };
      });
    },
  };
}
