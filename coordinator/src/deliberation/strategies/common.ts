/** Building blocks the fixed-shape strategies share: parallel answers, masked references, summaries. */
import { create } from "@bufbuild/protobuf";
import {
  AliasEntrySchema,
  AliasMapSchema,
  PromptKind,
  RoundSummarySchema,
  TallySchema,
} from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { SeatRole } from "../../../../proto/gen/conclave/v1/plan_pb.js";
import { majorityVote } from "../answer.js";
import { truncateText } from "../context-fit.js";
import { JobStop, QuorumLostError } from "../errors.js";
import { maskCandidates } from "../masking.js";
import type { SeatInfo } from "../ports.js";
import type { ShownResponse } from "../prompts/aggregate.js";
import type { PromptInput } from "../prompts/prompt-input.js";
import { randomSeed } from "../random.js";
import { classifyFault } from "../runtime/faults.js";
import { type FittedPrompt, fitPrompt } from "../runtime/fit-prompt.js";
import type { JobRuntime, RoundSnapshot } from "../runtime/job-runtime.js";
import { type PhaseResult, runPhase } from "../runtime/phase.js";
import { generateProposal, maxTokensFor, type ProposalRecord } from "../runtime/propose.js";
import { emitSeated, reseat } from "../runtime/seating.js";

/**
 * Every seat answers at once, each with its own prompt and a fresh sampling seed. A prompt that shows
 * others' answers comes fitted to its seat's context (`fitShown`), with the completion tokens it was fitted
 * to.
 */
export function answerAll(
  rt: JobRuntime,
  round: number,
  seats: readonly SeatInfo[],
  promptFor: (seat: SeatInfo) => PromptInput | FittedPrompt,
  temperature: number,
): Promise<PhaseResult<ProposalRecord>> {
  return runPhase(rt, round, seats, (seat) => {
    const p = promptFor(seat);
    const fitted = "maxTokens" in p ? p : undefined;
    return generateProposal(rt, {
      round,
      seat,
      prompt: fitted?.prompt ?? (p as PromptInput),
      ...(fitted !== undefined ? { maxTokens: fitted.maxTokens } : {}),
      kind: PromptKind.PROPOSE,
      temperature,
      seed: randomSeed(rt.random),
    });
  });
}

/**
 * A prompt that shows others' texts (references, responses, a synthesis), fitted to the seat's context:
 * the texts are cut to a common cap, marked `[truncated]`, when they do not all fit.
 */
export function fitShown(
  rt: JobRuntime,
  seat: SeatInfo,
  kind: PromptKind,
  what: string,
  shown: readonly ShownResponse[],
  build: (shown: readonly ShownResponse[]) => PromptInput,
): FittedPrompt {
  return fitPrompt(rt, {
    seat,
    what,
    wanted: maxTokensFor(rt, seat, kind),
    items: shown,
    size: (r) => r.text.length,
    cut: (r, cap) => (r.text.length <= cap ? r : { ...r, text: truncateText(r.text, cap) }),
    build,
  });
}

/** Fails the job when fewer than `min` answers arrived. */
export function requireAnswers(
  round: number,
  answers: readonly ProposalRecord[],
  min: number,
  what: string,
): void {
  if (answers.length < min) {
    throw new QuorumLostError(
      `round ${round}: only ${answers.length} ${what} arrived; at least ${min} needed`,
    );
  }
}

/**
 * Answers as one viewer sees them: fresh aliases, fresh order, the alias map recorded for the operator.
 * With `excludeOwn` the viewer's own answer is left out (debate shows it separately).
 */
export function maskedResponses(
  rt: JobRuntime,
  round: number,
  viewerSeatId: string,
  answers: readonly ProposalRecord[],
  label: string,
  excludeOwn: boolean,
): ShownResponse[] {
  const bySeat = new Map(answers.map((a) => [a.seatId, a]));
  const masked = maskCandidates(
    excludeOwn ? viewerSeatId : "",
    answers.map((a) => a.seatId),
    rt.random,
    label,
  );
  rt.emit({
    case: "aliasMap",
    value: create(AliasMapSchema, {
      round,
      evaluatorSeatId: viewerSeatId,
      entries: masked.map((m) => create(AliasEntrySchema, { alias: m.alias, seatId: m.seatId })),
    }),
  });
  return masked.map((m) => ({ label: m.alias, text: bySeat.get(m.seatId)?.answer ?? "" }));
}

export interface SimpleSummary {
  winnerSeatId?: string;
  winnerAnswer?: string;
  conviction?: number;
  /** Answers to tally as answer groups (majority-style): each seat's support is its group's size. */
  groupAnswers?: readonly ProposalRecord[];
}

/** A RoundSummary for rounds without quadratic voting. */
export function emitSimpleSummary(rt: JobRuntime, snapshot: RoundSnapshot, s: SimpleSummary): void {
  const stats = rt.endRound(snapshot);
  const answers = s.groupAnswers ?? [];
  const sizes = new Map<string, number>();
  for (const a of answers) sizes.set(a.key, (sizes.get(a.key) ?? 0) + 1);
  rt.emit({
    case: "roundCompleted",
    value: create(RoundSummarySchema, {
      round: snapshot.round,
      winnerSeatId: s.winnerSeatId ?? "",
      winnerAnswer: s.winnerAnswer ?? "",
      conviction: s.conviction ?? 0,
      tallies: answers.map((a) => {
        const n = sizes.get(a.key) ?? 0;
        return create(TallySchema, {
          seatId: a.seatId,
          support: n,
          netSupport: n / answers.length,
          runningMeanSupport: n,
          votesFor: n - 1,
        });
      }),
      durationMs: stats.durationMs,
      usage: stats.usage,
      meanPromptTokensPerAgent: stats.meanPromptTokensPerAgent,
    }),
  });
}

/** Majority vote over answers: the first answer of the largest group wins (ties: earliest group). */
export function majorityOf(answers: readonly ProposalRecord[]): {
  winner: ProposalRecord;
  conviction: number;
} {
  const m = majorityVote(answers.map((a) => a.answer));
  const winner = answers[m?.index ?? 0] as ProposalRecord;
  return { winner, conviction: answers.length > 0 ? (m?.count ?? 0) / answers.length : 0 };
}

/**
 * Runs work on a single seat (solo, aggregator, chairman), with one second chance. When its worker fails,
 * the role is re-seated (excluding that worker). When the call failed through no fault of the worker, it is
 * tried again on the same seat: after a context overflow the engine has learned how that worker counts
 * tokens and refits the prompt; after unusable output the model gets another go. Fails the job when the
 * second try fails too.
 */
export async function withOneReseat<T>(
  rt: JobRuntime,
  round: number,
  seat: SeatInfo,
  others: readonly SeatInfo[],
  work: (seat: SeatInfo) => Promise<T>,
): Promise<{ value: T; seat: SeatInfo }> {
  let current = seat;
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await work(current), seat: current };
    } catch (e) {
      if (e instanceof JobStop) throw e;
      const f = classifyFault(e);
      rt.recordFault(round, current, f.kind, f.message, f.workerFault);
      const role = SeatRole[current.seat.role]?.toLowerCase() ?? "seat";
      if (attempt >= 2) throw new QuorumLostError(`the ${role} seat failed twice: ${f.message}`);
      if (!f.workerFault) continue;
      const fresh = await reseat(rt, round, [current], others);
      const next = fresh[0];
      if (next === undefined)
        throw new QuorumLostError(`the ${role} seat failed and no replacement was found: ${f.message}`);
      emitSeated(rt, round, [...others, next]);
      current = next;
    }
  }
}

/** Re-seats the failed seats of a multi-round strategy before its next round; returns the new seat list. */
export async function refill(
  rt: JobRuntime,
  nextRound: number,
  seats: readonly SeatInfo[],
  failed: readonly SeatInfo[],
  others: readonly SeatInfo[],
): Promise<SeatInfo[]> {
  if (failed.length === 0) return [...seats];
  const alive = seats.filter((s) => !failed.includes(s));
  const fresh = await reseat(rt, nextRound, failed, [...alive, ...others]);
  const next = [...alive, ...fresh];
  if (fresh.length > 0) emitSeated(rt, nextRound, [...next, ...others]);
  return next;
}
