/**
 * Role sets of the built-in strategies (BRIEF §5–6), so that strategies and tests spell them the same way.
 * Strategies may build their own RoleSpec lists; these are conveniences, not a registry.
 */
import type { RoleSpec } from "./types.js";

export interface AgentRange {
  min: number;
  max: number;
}

/** NSED / debate / majority: agents that propose and cross-evaluate, plus optional domain seats. */
export function nsedRoles(
  agents: AgentRange,
  domainSeats: readonly { tag: string; max: number }[] = [],
): RoleSpec[] {
  return [
    { name: "agent", min: agents.min, max: agents.max, agent: true, abilities: ["propose", "evaluate"] },
    ...domainSeats.map((d) => ({
      name: d.tag,
      min: 0,
      max: d.max,
      agent: true,
      abilities: ["propose", "evaluate"] as const,
      requiredTags: [d.tag],
    })),
  ];
}

/** MoA / Self-MoA: proposers and one aggregator that reads every proposal (a longer prompt). */
export function moaRoles(
  proposers: AgentRange,
  aggregatorTokens?: { prompt: number; completion: number },
): RoleSpec[] {
  const aggregator: RoleSpec = {
    name: "aggregator",
    min: 1,
    max: 1,
    agent: false,
    abilities: ["synthesize"],
  };
  if (aggregatorTokens) aggregator.tokens = aggregatorTokens;
  return [
    { name: "proposer", min: proposers.min, max: proposers.max, agent: true, abilities: ["propose"] },
    aggregator,
  ];
}
