/**
 * NSED (brief §5): rounds of propose → masked cross-evaluation → quadratic vote → forget-gated state
 * update, until the stopping rule says stop. Proposals of a round run concurrently, then all evaluations.
 */
import { PromptKind, StopReason } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { SeatRole } from "../../../../proto/gen/conclave/v1/plan_pb.js";
import { JobCancelledError, QuorumLostError } from "../errors.js";
import { makeNonce } from "../fence.js";
import type { SeatInfo } from "../ports.js";
import { type PromptInput, promptText } from "../prompts/prompt-input.js";
import { buildProposePrompt } from "../prompts/propose.js";
import { type SupportHistory, tallyRound } from "../quadratic-vote.js";
import { randomSeed } from "../random.js";
import { fitsContext, planMaxTokens } from "../runtime/fit-prompt.js";
import type { JobRuntime } from "../runtime/job-runtime.js";
import { runPhase } from "../runtime/phase.js";
import { generateProposal, maxTokensFor, type ProposalRecord } from "../runtime/propose.js";
import { acquireSeats, emitSeated, growSeats, reseat } from "../runtime/seating.js";
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

/** Attempts at shrinking the state view until the whole prompt fits (the counter need not be additive). */
const VIEW_FIT_ATTEMPTS = 4;

/**
 * A later round's prompt with the agent's state view, its budget shrunk to what the seat's context leaves
 * beside the instructions and the completion; undefined when nothing but the task would fit (the
 * first-round form is then shorter and says as much).
 */
function laterRoundPrompt(
  rt: JobRuntime,
  seat: SeatInfo,
  history: readonly RoundMemory[],
  maxTokens: number,
): PromptInput | undefined {
  const p = rt.params;
  const nonce = makeNonce(rt.random);
  const build = (context: string) =>
    buildProposePrompt({
      profile: seat.profile,
      task: rt.spec.task,
      systemPrompt: rt.spec.systemPrompt,
      context,
      instruction: LATER_ROUND_INSTRUCTION,
      nonce,
    });
  const scaffold = rt.countTokens(promptText(build("")));
  let budget = Math.min(p.stateTokenBudget, rt.contexts.budget(seat, maxTokens) - scaffold);
  for (let attempt = 0; attempt < VIEW_FIT_ATTEMPTS; attempt++) {
    const view = buildStateView(
      { task: rt.spec.task, seatId: seat.seat.seatId, history },
      {
        gamma: p.gamma,
        dropBelow: p.dropBelow,
        tokenBudget: budget,
        historyShare: p.historyShare,
        countTokens: rt.countTokens,
        nonce,
      },
    );
    if (view.sections.length <= 1) return undefined;
    const prompt = build(view.text);
    if (fitsContext(rt, seat, prompt, maxTokens)) return prompt;
    const over = rt.countTokens(promptText(prompt)) - rt.contexts.budget(seat, maxTokens);
    budget = Math.min(budget, view.tokens) - Math.max(1, over);
  }
  return undefined;
}

/**
 * One agent's proposal for a round, its prompt built from its own state view (chat models). The
 * completion is planned against the prompt's shortest form (the task alone), and the view gets what the
 * seat's context has left: on a small context it shrinks, down to nothing.
 */
async function propose(rt: JobRuntime, round: number, seat: SeatInfo, history: readonly RoundMemory[]) {
  const p = rt.params;
  const base = { profile: seat.profile, task: rt.spec.task, systemPrompt: rt.spec.systemPrompt };
  const shortest = buildProposePrompt({ ...base, instruction: FIRST_ROUND_INSTRUCTION });
  const wanted = maxTokensFor(rt, seat, PromptKind.PROPOSE);
  const maxTokens = planMaxTokens(rt, seat, wanted, shortest, "the proposal prompt");
  let prompt = shortest;
  if (seat.profile.format === "chat" && history.length > 0) {
    const later = laterRoundPrompt(rt, seat, history, maxTokens);
    if (later !== undefined) prompt = later;
    else if ((seat.profile.contextLength ?? 0) > 0) {
      rt.log(
        `${seat.seat.seatId}: its context (${seat.profile.contextLength ?? 0} tokens) leaves no room for ` +
          `the state view in round ${round}; it proposes from the task alone`,
      );
    }
  }
  return generateProposal(rt, {
    round,
    seat,
    prompt,
    maxTokens,
    kind: PromptKind.PROPOSE,
    temperature: p.temperature,
    seed: randomSeed(rt.random),
  });
}

export async function runNsed(rt: JobRuntime): Promise<StrategyOutcome> {
  const p = rt.params;
  let seats = await acquireSeats(rt, [{ role: SeatRole.AGENT, count: p.agents, min: QUORUM }], 1);
  emitSeated(rt, 1, seats);
  let seenPool = rt.seatProvider.poolVersion?.();
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
    let seatingChanged = false;
    if ((!decision.stop || decision.reason === StopReason.QUORUM_LOST) && failed.length > 0) {
      const fresh = await reseat(rt, round + 1, failed, alive);
      alive = [...alive, ...fresh];
      seatingChanged = fresh.length > 0;
      decision = decide(alive.length);
    }
    // Seats the job asked for but never got (a small pool at the start, a re-seat that found nobody):
    // a worker that joined since takes one from the next round on.
    const pool = rt.seatProvider.poolVersion?.();
    if (!decision.stop && alive.length < p.agents && pool !== undefined && pool !== seenPool) {
      seenPool = pool;
      const more = await growSeats(rt, round + 1, SeatRole.AGENT, p.agents - alive.length, alive);
      alive = [...alive, ...more];
      seatingChanged ||= more.length > 0;
    }
    if (seatingChanged) emitSeated(rt, round + 1, alive);
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
