/**
 * Plain-words reasons for every decision: why each seat went to its worker, why each worker without a
 * seat got none (checked by counterfactuals — adding it, or swapping it for a chosen seat — evaluated
 * exactly, so the reason is a true statement about this plan), and why no plan exists.
 */

import { type CandidateSet, fmtSeconds } from "./candidates.js";
import { type Evaluation, evaluateSeats, type SeatChoice, type SeatShare } from "./evaluate.js";
import { buildSuffixData } from "./suffix-data.js";
import { ordinal } from "./value.js";

function num(x: number): string {
  return x.toFixed(3);
}

export function seatReason(set: CandidateSet, seat: SeatChoice, share: SeatShare): string {
  const c = set.candidates[seat.cand];
  const p = c?.pairs.find((q) => q.role === seat.role);
  const role = set.req.roles[seat.role];
  if (!c || !p || !role) return "chosen";
  const parts = [
    `quality[${set.req.domain}] ${c.quality.toFixed(2)}`,
    `reliability ${c.worker.reliability.toFixed(2)}`,
  ];
  if (p.match !== 1) parts.push(`off-domain match ${p.match.toFixed(2)}`);
  if (role.weight !== 1) parts.push(`role weight ${role.weight}`);
  let why = `chosen: value ${num(share.value)} = ${parts.join(" × ")}`;
  if (share.decayRank > 0)
    why += ` × ${set.req.repeatDecay}^${share.decayRank} as the ${ordinal(share.decayRank + 1)} seat of model ${c.worker.modelName}`;
  why += `; ${fmtSeconds(share.workerSeconds)} per round`;
  if (share.seatsOnWorker > 1) why += ` with ${share.seatsOnWorker} seats on this worker (Self-MoA)`;
  why += `, adds ${fmtSeconds(share.cost)} of compute`;
  if (c.watts > 0 && Number.isFinite(set.req.energyBudgetJoules)) why += ` and ${share.joules.toFixed(1)} J`;
  return why;
}

interface Attempt {
  what: string;
  ev: Evaluation;
}

/** Why candidate `cand`, which holds no seat, is not in the plan. */
export function exclusionReason(
  set: CandidateSet,
  cand: number,
  chosen: readonly SeatChoice[],
  planEval: Evaluation,
): string {
  const c = set.candidates[cand];
  if (!c) return "not chosen";
  const { req } = set;
  const best = c.pairs[0];
  if (best && best.value === 0)
    return `not chosen: its seat value is 0 (quality[${req.domain}] ${c.quality.toFixed(2)} × reliability ${c.worker.reliability.toFixed(2)})`;
  const eps = 1e-9 * Math.max(1, Math.abs(planEval.value));
  const roleCount = (r: number) => chosen.filter((s) => s.role === r).length;

  // Adding it: only the first feasible attempt (or, if none is, the first one) is reported, so attempts
  // are evaluated in order until one is feasible.
  const adds: Attempt[] = [];
  let feasibleAdd: Attempt | undefined;
  for (const p of c.pairs) {
    const role = req.roles[p.role];
    if (!role || roleCount(p.role) >= role.max) continue;
    const a = {
      what: `adding it as ${role.name}`,
      ev: evaluateSeats(set, [...chosen, { cand, role: p.role }]),
    };
    adds.push(a);
    if (a.ev.violations.length === 0) {
      feasibleAdd = a;
      break;
    }
  }
  // Swaps: for each role it may take, against the chosen seat of that role that adds the least value.
  const swaps: Attempt[] = [];
  for (const p of c.pairs) {
    let weakest = -1;
    chosen.forEach((s, j) => {
      if (s.role !== p.role) return;
      if (weakest < 0 || (planEval.shares[j]?.value ?? 0) < (planEval.shares[weakest]?.value ?? 0))
        weakest = j;
    });
    const s = chosen[weakest];
    if (!s) continue;
    const next = chosen.map((x, k) => (k === weakest ? { cand, role: s.role } : x));
    const who = set.candidates[s.cand]?.worker.workerId ?? "?";
    swaps.push({
      what: `replacing a ${req.roles[s.role]?.name} seat of ${who}`,
      ev: evaluateSeats(set, next),
    });
  }
  const feasibleSwaps = swaps.filter((a) => a.ev.violations.length === 0);
  feasibleSwaps.sort((a, b) => b.ev.value - a.ev.value || a.ev.computeSeconds - b.ev.computeSeconds);
  const bestSwap = feasibleSwaps[0];
  const familyFull =
    Number.isFinite(req.diversityCap) &&
    chosen.filter((s) => set.candidates[s.cand]?.familyIdx === c.familyIdx).length >= req.diversityCap;

  const notes: string[] = [];
  if (familyFull)
    notes.push(
      `family ${c.worker.family} already has ${req.diversityCap} seats (diversity cap ${req.diversityCap})`,
    );
  if (feasibleAdd) {
    // Only possible when adding gains nothing (or the search was stopped early).
    const gain = feasibleAdd.ev.value - planEval.value;
    notes.push(`${feasibleAdd.what} would change total value by ${gain >= 0 ? "+" : ""}${num(gain)} only`);
  } else if (adds.length > 0 && !familyFull) {
    const a = adds[0] as Attempt;
    notes.push(`${a.what} would break: ${a.ev.violations.join("; ")}`);
  } else if (adds.length === 0 && !familyFull) {
    const open = c.pairs.map((p) => req.roles[p.role]?.name).join(", ");
    notes.push(`every role it can take (${open}) is full`);
  }
  if (bestSwap) {
    const delta = bestSwap.ev.value - planEval.value;
    if (delta < -eps)
      notes.push(
        `${bestSwap.what} would lower total value from ${num(planEval.value)} to ${num(bestSwap.ev.value)}`,
      );
    else if (bestSwap.ev.computeSeconds > planEval.computeSeconds)
      notes.push(
        `${bestSwap.what} would keep the value but cost ${fmtSeconds(bestSwap.ev.computeSeconds - planEval.computeSeconds)} more compute`,
      );
    else
      notes.push(
        `${bestSwap.what} would tie; the tie-break prefers earlier candidates (value, then cost, then id)`,
      );
  } else if (swaps.length > 0) {
    const a = swaps[0] as Attempt;
    notes.push(`no swap fits: e.g. ${a.what} would break: ${a.ev.violations.join("; ")}`);
  }
  return `not chosen: ${notes.join("; ")}`;
}

/** Every reason no plan exists, most basic first. */
export function diagnoseInfeasible(set: CandidateSet, aborted: boolean, maxNodes: number): string[] {
  const { req, candidates } = set;
  const problems: string[] = [];
  if (candidates.length === 0) {
    problems.push(
      `no worker can take a seat (${set.exclusions.length} excluded${set.exclusions.length > 0 ? `, e.g. ${set.exclusions[0]?.workerId}: ${set.exclusions[0]?.reason}` : ""})`,
    );
  }
  const capOf = (role: number) =>
    candidates.reduce((s, c) => {
      const p = c.pairs.find((q) => q.role === role);
      return s + (p ? Math.min(c.slots, p.latencyCap) : 0);
    }, 0);
  let minSeats = 0;
  for (const role of req.roles) {
    minSeats += role.min;
    if (role.min === 0) continue;
    const cap = capOf(role.index);
    if (cap < role.min) {
      const needs = [
        ...role.abilities.map((a) => `ability ${a}`),
        ...role.requiredTags.map((t) => `tag ${t}`),
      ];
      problems.push(
        `role ${role.name} needs ${role.min} seat(s) but only ${cap} can be filled${
          cap === 0 && needs.length > 0 ? ` (it needs ${needs.join(" and ")} within the latency budget)` : ""
        }`,
      );
    }
  }
  const agentRoomByRoles = req.roles.reduce((s, r) => s + (r.agent ? r.max : 0), 0);
  if (agentRoomByRoles < req.minAgents)
    problems.push(
      `the roles allow ${agentRoomByRoles} agent seat(s); at least ${req.minAgents} agents are required`,
    );
  const perFamily = new Map<number, number>();
  for (const c of candidates) {
    const k = Math.max(0, ...c.pairs.filter((p) => p.agent).map((p) => Math.min(c.slots, p.latencyCap)));
    perFamily.set(c.familyIdx, (perFamily.get(c.familyIdx) ?? 0) + k);
  }
  let agentSeats = 0;
  for (const k of perFamily.values()) agentSeats += Math.min(k, req.diversityCap);
  if (agentSeats < req.minAgents && candidates.length > 0)
    problems.push(
      `at most ${agentSeats} agent seat(s) can be filled${
        Number.isFinite(req.diversityCap) ? ` (diversity cap ${req.diversityCap} per family)` : ""
      }; at least ${req.minAgents} agents are required`,
    );
  const totalSlots = candidates.reduce(
    (s, c) => s + Math.min(c.slots, Math.max(0, ...c.pairs.map((p) => p.latencyCap))),
    0,
  );
  if (minSeats > totalSlots && candidates.length > 0)
    problems.push(`role minimums need ${minSeats} seats but the workers offer ${totalSlots}`);
  const need = Math.max(minSeats, req.minAgents);
  if (problems.length === 0 && need > 0) {
    const data = buildSuffixData(set);
    const cs = data.cheapS[0];
    const cj = data.cheapJ[0];
    if (cs && need < cs.length && (cs[need] as number) > req.computeBudgetSeconds)
      problems.push(
        `compute budget ${fmtSeconds(req.computeBudgetSeconds)} is below the cheapest way to fill the ${need} required seats (at least ${fmtSeconds(cs[need] as number)})`,
      );
    if (cj && need < cj.length && (cj[need] as number) > req.energyBudgetJoules)
      problems.push(
        `energy budget ${req.energyBudgetJoules} J is below the cheapest way to fill the ${need} required seats (at least ${(cj[need] as number).toFixed(1)} J)`,
      );
  }
  if (aborted) problems.push(`the search stopped after ${maxNodes} nodes without finding a plan`);
  if (problems.length === 0)
    problems.push("no seating meets the role minimums, the diversity cap and the budgets together");
  return problems;
}
