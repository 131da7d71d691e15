/**
 * Running one job: validate, resolve parameters, run the strategy, and always end with a JobFinished event
 * and a JobResult. `runJob` does not throw for anything that can go wrong with a job (invalid spec, no
 * seats, quorum lost, cancel, deadline, internal error): it records the outcome and returns it. It rejects
 * only when `emit` itself throws.
 */
import { setMaxListeners } from "node:events";
import { create } from "@bufbuild/protobuf";
import { UsageSchema } from "../../../proto/gen/conclave/v1/common_pb.js";
import {
  type JobEvent,
  JobFinishedSchema,
  type JobResult,
  JobResultSchema,
  JobSchema,
  type JobSpec,
  JobState,
  StopReason,
  Strategy,
} from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { toConclaveError, toErrorInfo } from "../../../proto/src/errors.js";
import { JobSpecError, JobStop } from "./errors.js";
import { runNsed } from "./nsed/nsed.js";
import { resolveParams, validateJobSpec } from "./params.js";
import type { ModelPort, Random, SeatProvider, TokenCounter } from "./ports.js";
import { JobRuntime } from "./runtime/job-runtime.js";
import { TranscriptWriter } from "./runtime/transcript.js";
import { runCouncil } from "./strategies/council.js";
import { runDebate } from "./strategies/debate.js";
import { runMajority } from "./strategies/majority.js";
import { runMoa, runSelfMoa } from "./strategies/moa.js";
import type { StrategyOutcome, StrategyRunner } from "./strategies/outcome.js";
import { runSelfMoaSeq } from "./strategies/self-moa-seq.js";
import { runSingle } from "./strategies/single.js";
import { estimateTokens } from "./token-counter.js";

/** Options of one job run. */
export interface RunJobOptions {
  jobId: string;
  spec: JobSpec;
  models: ModelPort;
  seats: SeatProvider;
  /** Receives every event of the job, in order; must not block (queue it if persistence is slow). */
  emit: (event: JobEvent) => void;
  /** Aborting it cancels the job: in-flight calls are aborted and the job ends CANCELLED. */
  signal?: AbortSignal;
  /** @default Date.now */
  now?: () => number;
  /** @default Math.random */
  random?: Random;
  /** @default estimateTokens (characters / 4) */
  countTokens?: TokenCounter;
  /**
   * Longest a single model call may take, before the round latency budget and the job deadline tighten it.
   * @default 120000
   */
  callTimeoutMs?: number;
  /** Sequence number of the first event this run emits (a queue may have emitted `accepted` before). @default 1 */
  firstSequence?: number;
  /** Creation time recorded on the finished Job. @default now() at the start of the run */
  createdAtUnixMs?: number;
  /** Where the cause of an internal error is logged (it is never put into the transcript). Pino fits. */
  logger?: EngineLogger;
}

/** The one logging need of the engine: a pino-compatible `error`. */
export interface EngineLogger {
  error(obj: object, msg: string): void;
}

export const DEFAULT_CALL_TIMEOUT_MS = 120_000;

const RUNNERS: Partial<Record<Strategy, StrategyRunner>> = {
  [Strategy.NSED]: runNsed,
  [Strategy.SINGLE]: runSingle,
  [Strategy.MAJORITY]: runMajority,
  [Strategy.MOA]: runMoa,
  [Strategy.SELF_MOA]: runSelfMoa,
  [Strategy.SELF_MOA_SEQ]: runSelfMoaSeq,
  [Strategy.DEBATE]: runDebate,
  [Strategy.COUNCIL]: runCouncil,
};

/** A job stopped by a deadline or budget with an answer in hand succeeded; every other stop failed. */
function stateFor(stop: JobStop, hasAnswer: boolean): JobState {
  if (stop.stopReason === StopReason.CANCELLED) return JobState.CANCELLED;
  const early = stop.stopReason === StopReason.DEADLINE || stop.stopReason === StopReason.COMPUTE_BUDGET;
  return early && hasAnswer ? JobState.SUCCEEDED : JobState.FAILED;
}

export async function runJob(o: RunJobOptions): Promise<JobResult> {
  const now = o.now ?? Date.now;
  const transcript = new TranscriptWriter(o.jobId, o.emit, now, o.firstSequence ?? 1);
  const createdAt = o.createdAtUnixMs ?? now();
  const started = now();
  const userSignal = o.signal ?? new AbortController().signal;
  // The job's own signal: aborted by the owner's cancel, and at the end so no straggler call lingers.
  const jobAbort = new AbortController();
  // Every call in flight listens on it (a round of 8 agents in per-candidate mode is 56 calls).
  setMaxListeners(0, jobAbort.signal);
  const onCancel = () => jobAbort.abort(userSignal.reason);
  if (userSignal.aborted) onCancel();
  else userSignal.addEventListener("abort", onCancel, { once: true });

  let rt: JobRuntime | undefined;
  const finish = (
    state: JobState,
    outcome: Omit<StrategyOutcome, "rounds"> & { rounds?: number },
    error?: unknown,
  ): JobResult => {
    const result = create(JobResultSchema, {
      answer: outcome.answer,
      winnerSeatId: outcome.winnerSeatId,
      stopReason: outcome.stopReason,
      stopDetail: outcome.stopDetail,
      rounds: outcome.rounds ?? rt?.best?.round ?? 0,
      usage: create(UsageSchema, {
        promptTokens: rt?.promptTokens ?? 0,
        completionTokens: rt?.completionTokens ?? 0,
      }),
      durationMs: now() - started,
    });
    transcript.emit({
      case: "finished",
      value: create(JobFinishedSchema, {
        job: create(JobSchema, {
          jobId: o.jobId,
          spec: o.spec,
          state,
          createdAtUnixMs: BigInt(Math.round(createdAt)),
          updatedAtUnixMs: BigInt(Math.round(now())),
          result,
          ...(error !== undefined ? { error: toErrorInfo(error) } : {}),
          currentRound: result.rounds,
          seats: (rt?.book.all ?? []).map((s) => s.seat),
        }),
      }),
    });
    return result;
  };

  try {
    const problems = validateJobSpec(o.spec);
    const runner = RUNNERS[o.spec.strategy];
    if (problems.length > 0 || runner === undefined) {
      const err = new JobSpecError(
        problems.length > 0 ? problems : [`strategy ${o.spec.strategy} is not supported`],
      );
      return finish(
        JobState.FAILED,
        { answer: "", winnerSeatId: "", stopReason: StopReason.ERROR, stopDetail: err.message, rounds: 0 },
        err,
      );
    }
    rt = new JobRuntime({
      jobId: o.jobId,
      spec: o.spec,
      params: resolveParams(o.spec),
      models: o.models,
      seats: o.seats,
      transcript,
      signal: jobAbort.signal,
      cancelled: () => userSignal.aborted,
      now,
      random: o.random ?? Math.random,
      countTokens: o.countTokens ?? estimateTokens,
      callTimeoutMs: o.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    });
    try {
      const outcome = await runner(rt);
      return finish(JobState.SUCCEEDED, outcome);
    } catch (e) {
      const stop = e instanceof JobStop ? e : undefined;
      if (stop === undefined) {
        const err = toConclaveError(e);
        o.logger?.error({ err: e, jobId: o.jobId }, "deliberation job failed");
        return finish(
          JobState.FAILED,
          {
            answer: rt.best?.answer ?? "",
            winnerSeatId: rt.best?.winnerSeatId ?? "",
            stopReason: StopReason.ERROR,
            stopDetail: err.message,
          },
          err,
        );
      }
      const best = rt.best;
      const state = stateFor(stop, best !== undefined);
      return finish(
        state,
        {
          answer: best?.answer ?? "",
          winnerSeatId: best?.winnerSeatId ?? "",
          stopReason: stop.stopReason,
          stopDetail: stop.message,
        },
        state === JobState.SUCCEEDED ? undefined : stop,
      );
    }
  } finally {
    userSignal.removeEventListener("abort", onCancel);
    jobAbort.abort();
  }
}
