/**
 * The broker benchmark's role sets on random realistic pools. Each solve builds a fresh pool from
 * synthetic telemetry (through the registry and the default profiles, as the coordinator does) and times
 * plan() alone.
 */
import { create } from "@bufbuild/protobuf";
import { type PlanRequest, plan, type RoleSpec } from "../../../coordinator/src/broker/index.js";
import { DEFAULT_PROFILES } from "../../../coordinator/src/profiles/index.js";
import { planFor, roleDemandsFor } from "../../../coordinator/src/server/planning.js";
import { JobSpecSchema, Strategy } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { brokerPool, poolTelemetry, registryOf } from "./pool-catalog.js";

/** Eight distinct roles: agents, five optional domain seats, an aggregator and an optional chairman. */
export const EIGHT_ROLES: RoleSpec[] = [
  { name: "agent", min: 2, max: 6, abilities: ["propose", "evaluate"] },
  { name: "math", min: 0, max: 1, abilities: ["propose", "evaluate"], requiredTags: ["math"] },
  { name: "code", min: 0, max: 1, abilities: ["propose", "evaluate"], requiredTags: ["code"] },
  { name: "review", min: 0, max: 1, abilities: ["propose", "evaluate"], requiredTags: ["review"] },
  { name: "reasoning", min: 0, max: 1, abilities: ["propose", "evaluate"], requiredTags: ["reasoning"] },
  { name: "chat", min: 0, max: 1, abilities: ["propose"], requiredTags: ["chat"] },
  { name: "aggregator", min: 1, max: 1, agent: false, tokens: { prompt: 3000, completion: 400 } },
  { name: "chairman", min: 0, max: 1, agent: false, weight: 0.5, tokens: { prompt: 2500, completion: 300 } },
];

/** Eight roles under a latency and a compute budget with a family cap (both broker benches use it). */
export const EIGHT_ROLES_BUDGETED: PlanRequest = {
  roles: EIGHT_ROLES,
  domain: "math",
  tokens: { prompt: 800, completion: 300 },
  latencyBudgetSeconds: 60,
  computeBudgetSeconds: 120,
  diversityCap: 3,
};

/** Eight roles under tight compute and energy budgets with a family cap of 2. */
export const EIGHT_ROLES_STRESS: PlanRequest = {
  roles: EIGHT_ROLES,
  domain: "code",
  tokens: { prompt: 800, completion: 300 },
  latencyBudgetSeconds: 45,
  computeBudgetSeconds: 40,
  energyBudgetJoules: 6000,
  assumedPowerWatts: 150,
  diversityCap: 2,
};

/** What `conclave plan --agents 8` and an 8-agent NSED job ask the broker for. */
export const NSED_SPEC = create(JobSpecSchema, {
  task: "plan preview",
  strategy: Strategy.NSED,
  domain: "general",
  params: { agents: 8 },
});

export interface SolveResult {
  ms: number;
  nodes: number;
  exact: boolean;
  feasible: boolean;
}

export interface BrokerScenario {
  name: string;
  solve(seed: number, workers: number): SolveResult;
}

function direct(request: PlanRequest): BrokerScenario["solve"] {
  return (seed, workers) => {
    const pool = brokerPool(seed, workers, Date.now());
    const t0 = performance.now();
    const p = plan(pool, request);
    return {
      ms: performance.now() - t0,
      nodes: p.search.nodes,
      exact: p.search.exact,
      feasible: p.status === "ok",
    };
  };
}

export const BROKER_SCENARIOS: readonly BrokerScenario[] = [
  {
    name: "NSED agent × 8, as planFor builds it",
    solve: (seed, workers) => {
      const nowMs = Date.now();
      const registry = registryOf(poolTelemetry(seed, workers, nowMs), nowMs);
      const o = planFor(NSED_SPEC, roleDemandsFor(NSED_SPEC), {
        registry,
        profiles: DEFAULT_PROFILES,
        nowMs,
      });
      return {
        ms: o.solveMs,
        nodes: o.plan.search.nodes,
        exact: o.plan.search.exact,
        feasible: o.plan.status === "ok",
      };
    },
  },
  {
    name: "8 roles, latency 60 s, compute 120 s, family cap 3",
    solve: direct(EIGHT_ROLES_BUDGETED),
  },
  {
    name: "8 roles, compute 40 s, energy 6 kJ, family cap 2",
    solve: direct(EIGHT_ROLES_STRESS),
  },
];

/** Messages of the solve child (broker-solve-main.ts). */
export type SolveChildMessage =
  | { type: "solved"; result: SolveResult }
  | { type: "started"; index: number }
  | { type: "done" };

export interface SolveChildArgs {
  scenario: number;
  workers: number;
  solves: number;
  /** Stop starting solves after this long. */
  maxMs: number;
}
