/**
 * NSED (brief §5): rounds of propose → masked cross-evaluation → quadratic vote → forget-gated state
 * update, until the stopping rule says stop. Proposals of a round run concurrently, then all evaluations.
 */
import { PromptKind, StopReason } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { SeatRole } from "../../../../proto/gen/conclave/v1/plan_pb.js";
import { JobCancelledError, QuorumLostError } from "../errors.js";
import { makeNonce } from "../fence.js";
import type { SeatInfo } from "../ports.js";
import { buildProposePrompt } from "../prompts/propose.js";
import { type SupportHistory, tallyRound } from "../quadratic-vote.js";
import { randomSeed } from "../random.js";
import type { JobRuntime } from "../runtime/job-runtime.js";
import { runPhase } from "../runtime/phase.js";
import { generateProposal, type ProposalRecord } from "../runtime/propose.js";
import { acquireSeats, emitSeated, reseat } from "../runtime/seating.js";
import { buildStateView, pruneHistory, type RoundMemory } from "../state-view.js";
import { decideStop, QUORUM } from "../stopping-rule.js";
import type { StrategyOutcome } from "../strategies/outcome.js";
import { evaluateSeat } from "./evaluate.js";
import { roundMemory, roundSummary } from "./round-summary.js";

const FIRST_ROUND_INSTRUCTION = "Write your proposal now.";
const LATER_ROUND_INSTRUCTION =
  "Write your proposal for this round: keep what held up, fix what the critiques and contested claims " +
  "showed to be wrong, and give a complete answer (not a diff). You may adopt the winning answer if you " +
  "now believe it is right.";

/** One agent's proposal for a round, its prompt built from its own state view. */
async function propose(rt: JobRuntime, round: number, seat: SeatInfo, history: readonly RoundMemory[]) {
  const p = rt.params;
  let context: string | undefined;
  const nonce = makeNonce(rt.random);
  if (seat.profile.format === "chat") {
    context = buildStateView(
      { task: rt.spec.task, seatId: seat.seat.seatId, history },
      {
        gamma: p.gamma,
        dropBelow: p.dropBelow,
        tokenBudget: p.stateTokenBudget,
        historyShare: p.historyShare,
        countTokens: rt.countTokens,
        nonce,
      },
    ).text;
  }
  const prompt = buildProposePrompt({
    profile: seat.profile,
    task: rt.spec.task,
    systemPrompt: rt.spec.systemPrompt,
    ...(context !== undefined ? { context } : {}),
    instruction: history.length === 0 ? FIRST_ROUND_INSTRUCTION : LATER_ROUND_INSTRUCTION,
    ...(history.length > 0 ? { nonce } : {}),
  });
  return generateProposal(rt, {
    round,
    seat,
    prompt,
    kind: PromptKind.PROPOSE,
    temperature: p.temperature,
    seed: randomSeed(rt.random),
  });
}

export async function runNsed(rt: JobRuntime): Promise<StrategyOutcome> {
  const p = rt.params;
  let seats = await acquireSeats(rt, [{ role: SeatRole.AGENT, count: p.agents, min: QUORUM }], 1);
  emitSeated(rt, 1, seats);
  let history: RoundMemory[] = [];
  const support = new Map<string, SupportHistory>();
  let previous: ProposalRecord | undefined;
  const maxComputeSeconds = (rt.spec.budgets?.computeSeconds ?? 0) * p.maxRounds;
  for (let round = 1; ; round++) {
    const snapshot = rt.beginRound(round, seats);
    const proposed = await runPhase(rt, round, seats, (seat) => propose(rt, round, seat, history));
    let alive = seats.filter((s) => !proposed.failed.includes(s));
    const proposals = [...proposed.ok.values()];
    if (proposals.length < QUORUM) {
      throw new QuorumLostError(
        `round ${round}: only ${proposals.length} proposal(s) arrived; deliberation needs at least ${QUORUM}`,
      );
    }
    const ownAnswers = new Map(proposals.map((x) => [x.seatId, x.answer]));
    const evaluated = await runPhase(rt, round, alive, (seat) => {
      const own = ownAnswers.get(seat.seat.seatId);
      return evaluateSeat(rt, {
        round,
        evaluator: seat,
        candidates: proposals,
        ...(own !== undefined ? { ownAnswer: own } : {}),
      });
    });
    alive = alive.filter((s) => !evaluated.failed.includes(s));
    const evaluations = [...evaluated.ok.values()];
    const costs = new Map(proposals.map((x) => [x.seatId, x.completionTokens]));
    const tally = tallyRound({
      candidates: proposals.map((x) => x.seatId),
      evaluations: evaluations.map((e) => ({
        evaluatorSeatId: e.evaluatorSeatId,
        valid: e.valid,
        weights: e.weights,
      })),
      history: support,
      costs,
      answerKeys: new Map(proposals.map((x) => [x.seatId, x.key])),
    });
    for (const t of tally.tallies) {
      const h = support.get(t.seatId) ?? { sum: 0, rounds: 0 };
      support.set(t.seatId, { sum: h.sum + t.support, rounds: h.rounds + 1 });
    }
    const winner = proposals.find((x) => x.seatId === tally.winnerSeatId) ?? (proposals[0] as ProposalRecord);
    const stable =
      previous !== undefined && (previous.seatId === winner.seatId || previous.key === winner.key);
    const stats = rt.endRound(snapshot);
    rt.emit({
      case: "roundCompleted",
      value: roundSummary(round, tally, {
        winnerAnswer: winner.answer,
        winnerStable: stable,
        durationMs: stats.durationMs,
        usage: stats.usage,
        meanPromptTokensPerAgent: stats.meanPromptTokensPerAgent,
      }),
    });
    rt.best = { answer: winner.answer, winnerSeatId: winner.seatId, round };
    history = pruneHistory(
      [...history, roundMemory(round, tally, proposals, evaluations, costs)],
      p.gamma,
      p.dropBelow,
    );
    previous = winner;
    const decide = (activeAgents: number) =>
      decideStop({
        round,
        minRounds: p.minRounds,
        maxRounds: p.maxRounds,
        conviction: tally.conviction,
        convergenceThreshold: p.convergenceThreshold,
        winnerStable: stable,
        cancelled: rt.isCancelled(),
        activeAgents,
        elapsedMs: rt.elapsedMs(),
        deadlineMs: rt.deadlineMs,
        lastRoundMs: stats.durationMs,
        tokensUsed: rt.completionTokens,
        maxTotalTokens: Number(rt.spec.budgets?.maxTotalTokens ?? 0n),
        lastRoundTokens: stats.completionTokens,
        computeSecondsUsed: rt.computeMs / 1000,
        maxComputeSeconds,
        lastRoundComputeSeconds: stats.computeSeconds,
      });
    let decision = decide(alive.length);
    const failed = seats.filter((s) => !alive.includes(s));
    if ((!decision.stop || decision.reason === StopReason.QUORUM_LOST) && failed.length > 0) {
      const fresh = await reseat(rt, round + 1, failed, alive);
      alive = [...alive, ...fresh];
      if (fresh.length > 0) emitSeated(rt, round + 1, alive);
      decision = decide(alive.length);
    }
    if (decision.stop) {
      if (decision.reason === StopReason.CANCELLED) throw new JobCancelledError();
      if (decision.reason === StopReason.QUORUM_LOST)
        throw new QuorumLostError(`after round ${round}: ${decision.detail}`);
      return {
        answer: winner.answer,
        winnerSeatId: winner.seatId,
        stopReason: decision.reason,
        stopDetail: decision.detail,
        rounds: round,
      };
    }
    seats = alive;
  }
}
