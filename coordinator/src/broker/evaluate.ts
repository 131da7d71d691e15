/**
 * Exact evaluation of a seat assignment from scratch: value, costs, per-seat shares and every violated
 * constraint. The solver computes the same quantities incrementally; this is the reference used for the
 * reported plan, the explanations' counterfactuals and consistency checks.
 */
import type { CandidatePair, CandidateSet } from "./candidates.js";
import { fits } from "./value.js";

export interface SeatChoice {
  cand: number;
  role: number;
}

export interface SeatShare {
  /** Value after repeat decay. */
  value: number;
  /** 0-based rank among the agent seats of its model (0 for non-agent seats). */
  decayRank: number;
  /** Marginal compute seconds (see value.ts). */
  cost: number;
  /** Marginal joules at the worker's known/assumed watts. */
  joules: number;
  /** Round time of the worker holding the seat. */
  workerSeconds: number;
  /** Seats on that worker. */
  seatsOnWorker: number;
}

export interface Evaluation {
  value: number;
  computeSeconds: number;
  /** Joules at known or assumed watts (what the energy budget is checked against). */
  energyJoules: number;
  roundSeconds: number;
  agents: number;
  shares: SeatShare[];
  violations: string[];
}

/** Seat indices grouped by a key, in seat order. */
function groupBy(keys: readonly number[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  keys.forEach((k, i) => {
    if (k < 0) return;
    const list = out.get(k);
    if (list) list.push(i);
    else out.set(k, [i]);
  });
  return out;
}

export function evaluateSeats(set: CandidateSet, seats: readonly SeatChoice[]): Evaluation {
  const { req, candidates } = set;
  const rho = req.repeatDecay;
  const violations: string[] = [];
  const pairs: (CandidatePair | undefined)[] = seats.map((s) => candidates[s.cand]?.pairByRole[s.role]);
  const shares: SeatShare[] = seats.map(() => ({
    value: 0,
    decayRank: 0,
    cost: 0,
    joules: 0,
    workerSeconds: 0,
    seatsOnWorker: 0,
  }));
  pairs.forEach((p, i) => {
    if (!p) violations.push(`seat ${i}: worker/role pair is not a candidate`);
  });

  // Value: agent seats per model, sorted by value (ties: seat order), weighted 1, ρ, ρ², …
  let value = 0;
  let agents = 0;
  const modelOf = seats.map((s, i) => (pairs[i]?.agent ? (candidates[s.cand]?.modelIdx ?? -1) : -1));
  pairs.forEach((p, i) => {
    if (!p) return;
    if (p.agent) agents++;
    else {
      (shares[i] as SeatShare).value = p.value;
      value += p.value;
    }
  });
  for (const idxs of groupBy(modelOf).values()) {
    idxs.sort((a, b) => (pairs[b]?.value ?? 0) - (pairs[a]?.value ?? 0) || a - b);
    let w = 1;
    for (let rank = 0; rank < idxs.length; rank++) {
      const i = idxs[rank] as number;
      const v = w * (pairs[i]?.value ?? 0);
      const share = shares[i] as SeatShare;
      share.value = v;
      share.decayRank = rank;
      value += v;
      w *= rho;
    }
  }

  // Cost: per worker, max + σ·(sum − max); the seat with the longest time pays the max.
  let computeSeconds = 0;
  let energyJoules = 0;
  let roundSeconds = 0;
  for (const [cand, idxs] of groupBy(seats.map((s, i) => (pairs[i] ? s.cand : -1)))) {
    const c = candidates[cand];
    if (!c) continue;
    idxs.sort((a, b) => (pairs[b]?.seconds ?? 0) - (pairs[a]?.seconds ?? 0) || a - b);
    let t = 0;
    for (let k = 0; k < idxs.length; k++) {
      const share = shares[idxs[k] as number] as SeatShare;
      const s = pairs[idxs[k] as number]?.seconds ?? 0;
      const marginal = k === 0 ? s : c.sigma * s;
      t += marginal;
      share.cost = marginal;
      share.joules = marginal * c.watts;
    }
    for (const i of idxs) {
      const share = shares[i] as SeatShare;
      share.workerSeconds = t;
      share.seatsOnWorker = idxs.length;
    }
    computeSeconds += t;
    energyJoules += t * c.watts;
    roundSeconds = Math.max(roundSeconds, t);
    if (idxs.length > c.slots)
      violations.push(`${c.worker.workerId}: ${idxs.length} seats > ${c.slots} free slots`);
    if (!fits(t, req.latencyBudgetSeconds))
      violations.push(
        `${c.worker.workerId}: ${idxs.length} seats take ${t.toFixed(2)} s > latency budget ${req.latencyBudgetSeconds} s`,
      );
  }

  const perRole = new Int32Array(req.roles.length);
  for (const s of seats)
    if (s.role >= 0 && s.role < perRole.length) perRole[s.role] = (perRole[s.role] as number) + 1;
  for (const role of req.roles) {
    const n = perRole[role.index] as number;
    if (n < role.min) violations.push(`role ${role.name}: ${n} seats < min ${role.min}`);
    if (n > role.max) violations.push(`role ${role.name}: ${n} seats > max ${role.max}`);
  }
  if (agents < req.minAgents) violations.push(`${agents} agents < ${req.minAgents} required`);
  if (Number.isFinite(req.diversityCap)) {
    for (const [f, idxs] of groupBy(seats.map((s) => candidates[s.cand]?.familyIdx ?? -1)))
      if (idxs.length > req.diversityCap)
        violations.push(
          `family ${set.families[f]}: ${idxs.length} seats > diversity cap ${req.diversityCap}`,
        );
  }
  if (!fits(computeSeconds, req.computeBudgetSeconds))
    violations.push(`compute ${computeSeconds.toFixed(2)} s > budget ${req.computeBudgetSeconds} s`);
  if (!fits(energyJoules, req.energyBudgetJoules))
    violations.push(`energy ${energyJoules.toFixed(1)} J > budget ${req.energyBudgetJoules} J`);
  return { value, computeSeconds, energyJoules, roundSeconds, agents, shares, violations };
}
