/**
 * Dynamic Expertise Broker (BRIEF §4): inputs and outputs. The broker seats roles of a strategy on the
 * free slots of live workers, exactly maximising value under latency, compute/energy, diversity and role
 * constraints, and explains every decision. Design notes: deploy/PROFILES.md ("How the broker uses
 * profiles") and the module comments of value.ts and solve.ts.
 */
import type { WorkerId } from "../../../proto/src/ids.js";
import type { Ability, Domain } from "../profiles/types.js";

/** What the broker needs to know about one worker (build it with brokerWorkersFromRegistry). */
export interface BrokerWorker {
  workerId: WorkerId;
  /** Identity of the model for repeat decay: the same model on two workers gives correlated samples. */
  modelKey: string;
  modelName: string;
  /** Diversity caps count seats per family. */
  family: string;
  /** Free parallel sequences: each is one seat. */
  slots: number;
  prefillTokensPerSecond: number;
  generationTokensPerSecond: number;
  /** Fixed per-request overhead (network, scheduling). @default 0 */
  overheadSeconds?: number;
  /** Power draw when known (energy = watts × seconds). */
  powerWatts?: number;
  /** Overrides PlanRequest.concurrencySlowdown for this worker (e.g. 1 for a CPU worker). */
  concurrencySlowdown?: number;
  tags: readonly string[];
  abilities: readonly Ability[];
  /** Quality per domain in [0, 1]: profile prior blended with online updates. */
  quality: Readonly<Record<Domain, number>>;
  /** Success ratio in [0, 1]. */
  reliability: number;
  /** When set, the worker is listed as excluded with this reason (suspect, draining, starting, …). */
  unavailableReason?: string;
}

export interface TokenEstimate {
  /** Prompt tokens one seat reads per round. */
  prompt: number;
  /** Completion tokens one seat writes per round. */
  completion: number;
}

/** One role of a strategy's seating policy, e.g. NSED `agent × [2, 8]`, MoA `aggregator × 1`. */
export interface RoleSpec {
  name: string;
  /** Seats that must be filled. */
  min: number;
  /** Seats that may be filled. */
  max: number;
  /**
   * Agent roles deliberate: they count toward `minAgents` and share the repeat decay of their model.
   * @default true
   */
  agent?: boolean;
  /** @default ["propose"] for agent roles, ["synthesize"] otherwise */
  abilities?: readonly Ability[];
  /** Capability tags a worker must have for this role (domain seats: ["math"]). @default [] */
  requiredTags?: readonly string[];
  /** Multiplies the value of this role's seats. @default 1 */
  weight?: number;
  /** Overrides PlanRequest.tokens for this role (an aggregator reads every proposal). */
  tokens?: TokenEstimate;
}

export interface PlanRequest {
  roles: readonly RoleSpec[];
  domain: Domain;
  /** Tokens per seat per round (prompt + completion). */
  tokens: TokenEstimate;
  /** A seat whose expected seconds per round exceed this is not seated. @default no limit */
  latencyBudgetSeconds?: number;
  /** Knapsack capacity: total compute seconds per round (Σ over workers of their round time). @default no limit */
  computeBudgetSeconds?: number;
  /** Knapsack capacity: total energy per round in joules (W·s). @default no limit */
  energyBudgetJoules?: number;
  /** At most this many seats per model family. @default no cap */
  diversityCap?: number;
  /** @default 2 */
  minAgents?: number;
  /**
   * Value multiplier of each further agent seat of the same model: the k-th seat of a model is worth
   * ρ^(k−1) of its base value. 1 = samples are independent (always stack the best model); 0 = one seat per
   * model. @default 0.8
   */
  repeatDecay?: number;
  /** Capability match of a model not tagged with the task's domain. @default 0.85 */
  offDomainFactor?: number;
  /**
   * Slowdown per extra concurrent seat on one worker: k seats take s·(1 + σ(k − 1)) seconds.
   * 0 = perfect batching, 1 = fully serialised. @default 0.25
   */
  concurrencySlowdown?: number;
  /** Power assumed for workers that do not report it, for the energy budget. @default none (excluded) */
  assumedPowerWatts?: number;
  /**
   * Safety valve of the exact search: when hit, the best plan found is returned with `exact: false` and the
   * proven upper bound. A node is one search decision or one step of a group's spreading table (a few µs
   * each on a laptop core; 250 000 nodes took about 1–2 s on the 2-core benchmark machine). @default 250000
   */
  maxNodes?: number;
}

export interface PlanSeat {
  role: string;
  /** Index of the seat within its role. */
  seatIndex: number;
  workerId: WorkerId;
  modelName: string;
  family: string;
  /** This seat's contribution to the total value (after repeat decay). */
  value: number;
  /** Added compute seconds (the first seat on a worker pays its full time, further ones the slowdown). */
  cost: number;
  /** Added energy in joules, when the worker's power is known (or assumed). */
  costJoules: number | null;
  /** Expected seconds per round of the worker holding this seat (all its seats together). */
  expectedSeconds: number;
  reason: string;
}

export interface PlanExclusion {
  workerId: WorkerId;
  modelName: string;
  reason: string;
}

export interface PlanTotals {
  value: number;
  /** Σ over seated workers of their round time. */
  computeSeconds: number;
  /** Null when a seated worker's power is unknown. */
  energyJoules: number | null;
  /** Expected round wall time: the slowest seated worker. */
  roundSeconds: number;
  seats: number;
  agents: number;
  seatsByRole: Readonly<Record<string, number>>;
  seatsByFamily: Readonly<Record<string, number>>;
}

export interface SearchStats {
  nodes: number;
  /** False only when maxNodes stopped the search (the plan is then the best found, not proven optimal). */
  exact: boolean;
  /** No plan is worth more than this (the root bound; equals the plan's value up to rounding when exact). */
  upperBound: number;
}

export interface FeasiblePlan {
  status: "ok";
  seats: PlanSeat[];
  exclusions: PlanExclusion[];
  totals: PlanTotals;
  search: SearchStats;
}

export interface InfeasiblePlan {
  status: "infeasible";
  /** The first, most basic reason. */
  reason: string;
  /** Every reason found. */
  problems: string[];
  seats: [];
  exclusions: PlanExclusion[];
  search: SearchStats;
}

export type Plan = FeasiblePlan | InfeasiblePlan;
