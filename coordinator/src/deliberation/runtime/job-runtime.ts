/**
 * The I/O shell every strategy runs on: model calls (with per-call deadlines, prompt records and usage
 * accounting), seating and re-seating, faults, identity scrubbing, budgets. Decisions stay in the pure
 * modules; this class only carries state and talks to the ports.
 */
import { create } from "@bufbuild/protobuf";
import {
  SamplingParamsSchema,
  type Usage,
  UsageSchema,
} from "../../../../proto/gen/conclave/v1/common_pb.js";
import {
  ChatPromptSchema,
  FaultKind,
  FaultSchema,
  type JobSpec,
  LogLineSchema,
  PromptKind,
  PromptRecordSchema,
  RoundStartedSchema,
} from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import {
  ChatInputSchema,
  InferenceRequestSchema,
  type InferenceResult,
  ScoreRequestSchema,
  type ScoreResult,
} from "../../../../proto/gen/conclave/v1/inference_pb.js";
import { BudgetExhaustedError, cancelReasonOf, JobCancelledError, JobDeadlineError } from "../errors.js";
import type { ResolvedParams } from "../params.js";
import type { ModelPort, Random, SeatInfo, SeatProvider, TokenCounter } from "../ports.js";
import { type PromptInput, promptText } from "../prompts/prompt-input.js";
import { type ScrubResult, scrubIdentity } from "../scrub.js";
import { callWithDeadline } from "./deadline.js";
import { SeatBook } from "./seat-book.js";
import { SeatContexts } from "./seat-contexts.js";
import type { JobEventBody, TranscriptWriter } from "./transcript.js";

export interface JobRuntimeOptions {
  jobId: string;
  spec: JobSpec;
  params: ResolvedParams;
  models: ModelPort;
  seats: SeatProvider;
  transcript: TranscriptWriter;
  /** The job's own signal: aborted on cancel and when the job ends. */
  signal: AbortSignal;
  /** Whether the job was cancelled by its owner (as opposed to ending). */
  cancelled: () => boolean;
  now: () => number;
  random: Random;
  countTokens: TokenCounter;
  callTimeoutMs: number;
}

export interface GenerateCall {
  round: number;
  seat: SeatInfo;
  kind: PromptKind;
  prompt: PromptInput;
  /** Wanted completion tokens; the seat's context may lower it (see context-fit.ts). */
  maxTokens: number;
  /** Fewest completion tokens the call is still useful with. @default completionFloor */
  minMaxTokens?: number;
  temperature: number;
  seed?: number;
  jsonSchema?: Record<string, unknown>;
}

export interface CallOutcome<T> {
  result: T;
  usage: Usage;
  latencyMs: number;
}

export interface ScoreCall {
  round: number;
  seat: SeatInfo;
  prompt: PromptInput;
  candidates: readonly string[];
}

/** Counters at the start of a round, to report the round's own usage. */
export interface RoundSnapshot {
  round: number;
  startedAt: number;
  promptTokens: number;
  completionTokens: number;
  computeMs: number;
}

export interface RoundStats {
  durationMs: number;
  usage: Usage;
  completionTokens: number;
  computeSeconds: number;
  meanPromptTokensPerAgent: number;
}

/** The best answer so far: what a job stopped early (deadline, budget) still returns. */
export interface BestAnswer {
  answer: string;
  winnerSeatId: string;
  round: number;
}

export class JobRuntime {
  readonly jobId: string;
  readonly spec: JobSpec;
  readonly params: ResolvedParams;
  readonly random: Random;
  readonly countTokens: TokenCounter;
  readonly signal: AbortSignal;
  readonly startedAt: number;
  readonly nowFn: () => number;
  promptTokens = 0;
  completionTokens = 0;
  computeMs = 0;
  best: BestAnswer | undefined;
  readonly book = new SeatBook();
  readonly seatProvider: SeatProvider;
  private readonly o: JobRuntimeOptions;
  private requestCounter = 0;
  private roundPromptTokens = new Map<string, number>();
  /** Context windows of the seats, and each worker's real tokens per estimated token. */
  readonly contexts = new SeatContexts();

  constructor(o: JobRuntimeOptions) {
    this.o = o;
    this.jobId = o.jobId;
    this.spec = o.spec;
    this.params = o.params;
    this.random = o.random;
    this.countTokens = o.countTokens;
    this.signal = o.signal;
    this.nowFn = o.now;
    this.seatProvider = o.seats;
    this.startedAt = o.now();
  }

  now(): number {
    return this.nowFn();
  }

  emit(body: JobEventBody): void {
    this.o.transcript.emit(body);
  }

  log(message: string): void {
    this.emit({ case: "log", value: create(LogLineSchema, { message }) });
  }

  get deadlineMs(): number {
    return this.spec.budgets?.deadlineMs ?? 0;
  }

  elapsedMs(): number {
    return this.now() - this.startedAt;
  }

  /** Whether the job's owner cancelled it. */
  isCancelled(): boolean {
    return this.o.cancelled();
  }

  checkCancelled(): void {
    if (this.o.cancelled()) throw new JobCancelledError(cancelReasonOf(this.signal.reason));
  }

  /** Throws when the job's wall-clock deadline has passed. */
  checkDeadline(): void {
    if (this.deadlineMs > 0 && this.elapsedMs() >= this.deadlineMs) {
      throw new JobDeadlineError(`deadline of ${this.deadlineMs} ms reached`);
    }
  }

  /** Throws when the completion-token budget is spent (between the steps of fixed-shape strategies). */
  checkBudgets(): void {
    this.checkCancelled();
    this.checkDeadline();
    const max = Number(this.spec.budgets?.maxTotalTokens ?? 0n);
    if (max > 0 && this.completionTokens >= max) {
      throw new BudgetExhaustedError(`${this.completionTokens} of ${max} completion tokens spent`);
    }
  }

  /**
   * The deadline of one call: the engine's cap, the per-round latency budget and whatever is left of the
   * job's deadline, whichever is smallest. Every call has one, so no job can hang on a silent worker.
   */
  callTimeoutMs(): number {
    let t = this.o.callTimeoutMs;
    const round = this.spec.budgets?.roundLatencySeconds ?? 0;
    if (round > 0) t = Math.min(t, round * 1000);
    if (this.deadlineMs > 0) {
      const left = this.deadlineMs - this.elapsedMs();
      if (left <= 0) throw new JobDeadlineError(`deadline of ${this.deadlineMs} ms reached`);
      t = Math.min(t, left);
    }
    return t;
  }

  /**
   * Completion tokens one more call may spend: the rest of the job's hard cap (undefined: no cap). A call
   * that would start with nothing left ends the job instead. Calls already running together can overrun
   * the cap by what each was allowed when it started.
   */
  private tokenAllowance(): number | undefined {
    const max = Number(this.spec.budgets?.maxTotalTokens ?? 0n);
    if (max <= 0) return undefined;
    const left = max - this.completionTokens;
    if (left <= 0)
      throw new BudgetExhaustedError(`${this.completionTokens} of ${max} completion tokens spent`);
    return left;
  }

  private nextRequestId(): string {
    this.requestCounter++;
    return `${this.jobId}-${this.requestCounter}`;
  }

  private account(seatId: string, usage: Usage | undefined, estimate: number, ms: number): Usage {
    const u = create(UsageSchema, {
      promptTokens: usage?.promptTokens || estimate,
      completionTokens: usage?.completionTokens ?? 0,
    });
    this.promptTokens += u.promptTokens;
    this.completionTokens += u.completionTokens;
    this.computeMs += ms;
    this.roundPromptTokens.set(seatId, (this.roundPromptTokens.get(seatId) ?? 0) + u.promptTokens);
    return u;
  }

  private recordPrompt(
    round: number,
    seat: SeatInfo,
    kind: PromptKind,
    prompt: PromptInput,
    requestId: string,
  ): number {
    const tokens = this.countTokens(promptText(prompt));
    this.emit({
      case: "prompt",
      value: create(PromptRecordSchema, {
        round,
        seatId: seat.seat.seatId,
        kind,
        input:
          prompt.kind === "chat"
            ? { case: "chat", value: create(ChatPromptSchema, { messages: prompt.messages }) }
            : { case: "rawPrompt", value: prompt.prompt },
        promptTokens: tokens,
        requestId,
      }),
    });
    return tokens;
  }

  /** Measured latency; the worker's own total when the injected clock did not move (scripted tests). */
  private latency(start: number, workerTotalMs: number | undefined): number {
    const measured = this.now() - start;
    return measured > 0 ? measured : (workerTotalMs ?? 0);
  }

  async generate(call: GenerateCall): Promise<CallOutcome<InferenceResult>> {
    this.checkCancelled();
    // Every call is planned here too (idempotent for callers that planned): nothing that cannot fit is sent.
    const planned = this.contexts.plan(
      call.seat,
      call.maxTokens,
      this.countTokens(promptText(call.prompt)),
      `the ${PromptKind[call.kind]?.toLowerCase() ?? "model"} prompt`,
      call.minMaxTokens,
    );
    const allowance = this.tokenAllowance();
    const timeoutMs = this.callTimeoutMs();
    const requestId = this.nextRequestId();
    const req = create(InferenceRequestSchema, {
      requestId,
      input:
        call.prompt.kind === "chat"
          ? { case: "chat", value: create(ChatInputSchema, { messages: call.prompt.messages }) }
          : { case: "rawPrompt", value: call.prompt.prompt },
      sampling: create(SamplingParamsSchema, {
        temperature: call.temperature,
        ...(call.seed !== undefined ? { seed: call.seed } : {}),
      }),
      maxTokens: allowance !== undefined ? Math.min(planned, allowance) : planned,
      jsonSchema: call.jsonSchema !== undefined ? JSON.stringify(call.jsonSchema) : "",
      deadlineUnixMs: BigInt(Math.round(this.now() + timeoutMs)),
      caller: `${this.jobId}/${call.seat.seat.seatId}`,
    });
    const estimate = this.recordPrompt(call.round, call.seat, call.kind, call.prompt, requestId);
    return this.invoke(call.seat, estimate, timeoutMs, (signal) =>
      this.o.models.generate(call.seat.seat.workerId, req, { signal }),
    );
  }

  async score(call: ScoreCall): Promise<CallOutcome<ScoreResult>> {
    this.checkCancelled();
    // The worker needs the prompt plus the longest candidate in one context.
    const longest = Math.max(0, ...call.candidates.map((c) => this.countTokens(c)));
    const promptTokens = this.countTokens(promptText(call.prompt));
    this.contexts.check(
      call.seat,
      promptTokens + longest,
      0,
      "the scoring prompt with its longest candidate",
    );
    this.tokenAllowance();
    const timeoutMs = this.callTimeoutMs();
    const requestId = this.nextRequestId();
    const req = create(ScoreRequestSchema, {
      requestId,
      input:
        call.prompt.kind === "chat"
          ? { case: "chat", value: create(ChatInputSchema, { messages: call.prompt.messages }) }
          : { case: "rawPrompt", value: call.prompt.prompt },
      candidates: [...call.candidates],
      appendEos: true,
      deadlineUnixMs: BigInt(Math.round(this.now() + timeoutMs)),
      caller: `${this.jobId}/${call.seat.seat.seatId}`,
    });
    const estimate = this.recordPrompt(call.round, call.seat, PromptKind.SCORE, call.prompt, requestId);
    return this.invoke(call.seat, estimate, timeoutMs, (signal) =>
      this.o.models.score(call.seat.seat.workerId, req, { signal }),
    );
  }

  /** One model call under its deadline: learns the seat's token ratio and accounts usage either way. */
  private async invoke<T extends InferenceResult | ScoreResult>(
    seat: SeatInfo,
    estimate: number,
    timeoutMs: number,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<CallOutcome<T>> {
    const start = this.now();
    try {
      const result = await callWithDeadline(fn, timeoutMs, this.signal);
      const latencyMs = this.latency(start, result.timings?.totalMs);
      if (result.usage !== undefined) this.contexts.observe(seat, result.usage.promptTokens, estimate);
      return { result, latencyMs, usage: this.account(seat.seat.seatId, result.usage, estimate, latencyMs) };
    } catch (e) {
      this.contexts.observeFailure(seat, e, estimate);
      this.account(seat.seat.seatId, undefined, estimate, this.now() - start);
      throw this.o.cancelled() ? new JobCancelledError(cancelReasonOf(this.signal.reason)) : e;
    }
  }

  /** Redacts every seat's identity (and model self-identifications) from text another agent will see. */
  scrub(text: string): ScrubResult {
    return scrubIdentity(text, this.book.denyList);
  }

  /**
   * Records a fault. A worker to blame for it (runtime/faults.ts) is never seated again for this job; by
   * default every kind but invalid output and re-seating blames the worker.
   */
  recordFault(
    round: number,
    seat: SeatInfo,
    kind: FaultKind,
    message: string,
    workerFault = kind !== FaultKind.INVALID_OUTPUT && kind !== FaultKind.RESEATED,
  ): void {
    if (workerFault) this.book.markFaulted(seat.seat.workerId);
    this.emit({
      case: "fault",
      value: create(FaultSchema, {
        round,
        seatId: seat.seat.seatId,
        workerId: seat.seat.workerId,
        kind,
        message,
      }),
    });
  }

  beginRound(round: number, seats: readonly SeatInfo[]): RoundSnapshot {
    this.checkCancelled();
    this.roundPromptTokens = new Map();
    this.emit({
      case: "roundStarted",
      value: create(RoundStartedSchema, { round, seatIds: seats.map((s) => s.seat.seatId) }),
    });
    return {
      round,
      startedAt: this.now(),
      promptTokens: this.promptTokens,
      completionTokens: this.completionTokens,
      computeMs: this.computeMs,
    };
  }

  endRound(s: RoundSnapshot): RoundStats {
    const perSeat = [...this.roundPromptTokens.values()];
    return {
      durationMs: this.now() - s.startedAt,
      usage: create(UsageSchema, {
        promptTokens: this.promptTokens - s.promptTokens,
        completionTokens: this.completionTokens - s.completionTokens,
      }),
      completionTokens: this.completionTokens - s.completionTokens,
      computeSeconds: (this.computeMs - s.computeMs) / 1000,
      meanPromptTokensPerAgent: perSeat.length > 0 ? perSeat.reduce((a, b) => a + b, 0) / perSeat.length : 0,
    };
  }
}
