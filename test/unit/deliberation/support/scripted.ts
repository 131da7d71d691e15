/**
 * Scripted agents at the model edge: a ModelPort and a SeatProvider whose "models" are functions. The engine
 * under test is real; only the models are fakes.
 */
import { create } from "@bufbuild/protobuf";
import type {
  AgentProfile,
  ModelCallOptions,
  ModelPort,
  SeatInfo,
  SeatProvider,
  SeatRequest,
} from "../../../../coordinator/src/deliberation/index.js";
import { ChatRole, UsageSchema } from "../../../../proto/gen/conclave/v1/common_pb.js";
import {
  EvaluationMode,
  type JobEvent,
  SeatSchema,
} from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import {
  CandidateScoreSchema,
  FinishReason,
  type InferenceRequest,
  type InferenceResult,
  InferenceResultSchema,
  type ScoreRequest,
  type ScoreResult,
  ScoreResultSchema,
  TokenLogprobSchema,
} from "../../../../proto/gen/conclave/v1/inference_pb.js";
import { SeatRole } from "../../../../proto/gen/conclave/v1/plan_pb.js";
import { ConclaveError, ErrorCode } from "../../../../proto/src/errors.js";

export type CallKind = "propose" | "evaluate" | "verdict" | "aggregate" | "raw";

export interface GenerateCall {
  workerId: string;
  req: InferenceRequest;
  kind: CallKind;
  system: string;
  user: string;
  raw: string;
  signal: AbortSignal;
  /** 1, 2, … per worker and kind. */
  n: number;
}

export interface ScoreCall {
  workerId: string;
  req: ScoreRequest;
  prompt: string;
  candidates: string[];
}

export interface ScriptedWorker {
  workerId: string;
  modelName: string;
  host?: string;
  profile: AgentProfile;
  /** Roles this worker may fill. @default [AGENT, PROPOSER, SOLO] */
  roles?: SeatRole[];
  generate?: (c: GenerateCall) => string | Promise<string>;
  /** Total log-probability of each candidate. */
  score?: (c: ScoreCall) => number[] | Promise<number[]>;
  /** Seats the worker can hold at once (its slots). @default 1 */
  slots?: number;
  /**
   * How the worker counts prompt tokens (what it reports as usage and checks against
   * `profile.contextLength`, like the real worker). @default { charsPerToken: 4, templateTokens: 0 }
   */
  tokenizer?: ScriptedTokenizer;
}

/** A stand-in for a real tokenizer: a fixed density plus the chat template's own tokens. */
export interface ScriptedTokenizer {
  charsPerToken: number;
  templateTokens: number;
}

/** stories260K on our prompts, as measured through node-llama-cpp: ~2.5 real tokens per chars/4 estimate. */
export const STORIES_TOKENIZER: ScriptedTokenizer = { charsPerToken: 1.6, templateTokens: 40 };

/** A request the world refused because its prompt did not fit the worker's context. */
export interface OverflowRecord {
  workerId: string;
  promptTokens: number;
}

export const CHAT_PROFILE: AgentProfile = {
  format: "chat",
  evaluationMode: EvaluationMode.BATCH,
  canAggregate: true,
};

/** The arithmetic models' profile (TASK-MODELS.md). */
export const ARITH_PROFILE: AgentProfile = {
  format: "raw",
  evaluationMode: EvaluationMode.PER_CANDIDATE,
  templates: { propose: "Q {task}=", verify: "V {task}={candidate} ?" },
  verdicts: { Y: 100, N: -100 },
  canAggregate: false,
  maxTokens: { propose: 6, verdict: 2 },
  likelihoodBasis: "total",
};

export function classify(req: InferenceRequest): {
  kind: CallKind;
  system: string;
  user: string;
  raw: string;
} {
  if (req.input.case === "rawPrompt") return { kind: "raw", system: "", user: "", raw: req.input.value };
  const msgs = req.input.case === "chat" ? req.input.value.messages : [];
  const system = msgs.find((m) => m.role === ChatRole.SYSTEM)?.content ?? "";
  const user = msgs.find((m) => m.role === ChatRole.USER)?.content ?? "";
  const kind: CallKind = system.startsWith("You review answers")
    ? "evaluate"
    : system.startsWith("You check one answer")
      ? "verdict"
      : system.startsWith("You are given several candidate responses")
        ? "aggregate"
        : "propose";
  return { kind, system, user, raw: "" };
}

export interface FencedBlock {
  nonce: string;
  label: string;
  body: string;
}

/** Every fenced block of a prompt. */
export function fencedBlocks(text: string): FencedBlock[] {
  const out: FencedBlock[] = [];
  const re = /<<<BEGIN ([0-9a-f]+) ([^>\n]*)>>>\n([\s\S]*?)\n<<<END \1>>>/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    out.push({ nonce: m[1] ?? "", label: m[2] ?? "", body: m[3] ?? "" });
  }
  return out;
}

/** The candidates of a batch evaluation prompt: alias and answer. */
export function candidatesOf(user: string): Array<{ alias: string; answer: string }> {
  return fencedBlocks(user)
    .filter((b) => b.label.startsWith("Candidate "))
    .map((b) => ({
      alias: b.label,
      answer: (/^Answer: ([\s\S]*?)(?:\nRationale: [\s\S]*)?$/.exec(b.body)?.[1] ?? "").trim(),
    }));
}

/** A batch evaluation reply giving each candidate `weightOf(answer)`. */
export function evaluationReply(user: string, weightOf: (answer: string) => number): string {
  return JSON.stringify({
    evaluations: candidatesOf(user).map((c) => {
      const w = weightOf(c.answer);
      return {
        candidate: c.alias,
        weight: w,
        stance: w > 0 ? "support" : w < 0 ? "oppose" : "neutral",
        claims: [{ text: `claim about ${c.answer.slice(0, 20)}`, verdict: w > 0 ? "verified" : "contested" }],
        critique: w > 0 ? "Looks right." : "This is wrong.",
      };
    }),
  });
}

export function proposalReply(answer: string, rationale = "because"): string {
  return JSON.stringify({ answer, rationale });
}

/** A chat agent that always proposes `answer` and scores candidates equal to `truth` high, others low. */
export function chatAgent(
  workerId: string,
  answer: string | ((n: number) => string),
  truth: string,
): ScriptedWorker {
  return {
    workerId,
    modelName: `model-${workerId}`,
    host: `host-${workerId}`,
    profile: CHAT_PROFILE,
    roles: [SeatRole.AGENT, SeatRole.PROPOSER, SeatRole.SOLO, SeatRole.AGGREGATOR, SeatRole.CHAIRMAN],
    generate: (c) => {
      if (c.kind === "evaluate") return evaluationReply(c.user, (a) => (a === truth ? 90 : -60));
      if (c.kind === "verdict")
        return JSON.stringify({ verdict: c.user.includes(`Answer: ${truth}`) ? "yes" : "no" });
      if (c.kind === "aggregate") return proposalReply(truth, "synthesis");
      return proposalReply(typeof answer === "function" ? answer(c.n) : answer);
    },
  };
}

export class ScriptedWorld implements ModelPort, SeatProvider {
  readonly generateCalls: GenerateCall[] = [];
  readonly scoreCalls: ScoreCall[] = [];
  readonly seatRequests: SeatRequest[] = [];
  /** Requests refused with context_overflow (they never reached a script). */
  readonly overflows: OverflowRecord[] = [];
  /** Prompt tokens (as the worker counts them) of every generate call that reached a script, by request id. */
  readonly realPromptTokens = new Map<string, number>();
  readonly dead = new Set<string>();
  private readonly counters = new Map<string, number>();
  private readonly handedOut = new Set<string>();
  readonly workers: ScriptedWorker[];

  constructor(workers: ScriptedWorker[]) {
    this.workers = workers;
  }

  private worker(id: string): ScriptedWorker {
    const w = this.workers.find((x) => x.workerId === id);
    if (w === undefined || this.dead.has(id))
      throw new ConclaveError(ErrorCode.UNAVAILABLE, `worker ${id} is gone`);
    return w;
  }

  /** Prompt tokens as the worker counts them; throws context_overflow like the worker when they do not fit. */
  private countPrompt(w: ScriptedWorker, chars: number, extra = 1): number {
    const t = w.tokenizer ?? { charsPerToken: 4, templateTokens: 0 };
    const tokens = Math.ceil(chars / t.charsPerToken) + t.templateTokens;
    const ctx = w.profile.contextLength ?? 0;
    if (ctx > 0 && tokens + extra > ctx) {
      this.overflows.push({ workerId: w.workerId, promptTokens: tokens });
      throw new ConclaveError(
        ErrorCode.CONTEXT_OVERFLOW,
        `prompt needs ${tokens + extra} tokens but the context holds ${ctx}`,
        { details: [`promptTokens=${tokens}`, `contextSize=${ctx}`] },
      );
    }
    return tokens;
  }

  async generate(workerId: string, req: InferenceRequest, opts: ModelCallOptions): Promise<InferenceResult> {
    const w = this.worker(workerId);
    const c = classify(req);
    const promptTokens = this.countPrompt(w, c.raw.length + c.system.length + c.user.length);
    this.realPromptTokens.set(req.requestId, promptTokens);
    const key = `${workerId}/${c.kind}`;
    const n = (this.counters.get(key) ?? 0) + 1;
    this.counters.set(key, n);
    const call: GenerateCall = { workerId, req, ...c, signal: opts.signal, n };
    this.generateCalls.push(call);
    if (w.generate === undefined) throw new ConclaveError(ErrorCode.UNSUPPORTED, "no script");
    const text = await w.generate(call);
    return create(InferenceResultSchema, {
      requestId: req.requestId,
      text,
      finishReason: FinishReason.STOP,
      usage: create(UsageSchema, {
        promptTokens,
        completionTokens: Math.ceil(text.length / 4),
      }),
      jsonValid: true,
      workerId,
    });
  }

  async score(workerId: string, req: ScoreRequest, _opts: ModelCallOptions): Promise<ScoreResult> {
    const w = this.worker(workerId);
    const prompt = req.input.case === "rawPrompt" ? req.input.value : "";
    const longest = Math.max(0, ...req.candidates.map((x) => x.length));
    const promptTokens = this.countPrompt(w, prompt.length, Math.ceil(longest / 4));
    const call: ScoreCall = { workerId, req, prompt, candidates: [...req.candidates] };
    this.scoreCalls.push(call);
    if (w.score === undefined) throw new ConclaveError(ErrorCode.UNSUPPORTED, "no scoring script");
    const totals = await w.score(call);
    return create(ScoreResultSchema, {
      requestId: req.requestId,
      candidates: req.candidates.map((cand, k) => {
        const total = totals[k] ?? Number.NEGATIVE_INFINITY;
        const chars = [...cand, "</s>"];
        return create(CandidateScoreSchema, {
          tokens: chars.map((t) => create(TokenLogprobSchema, { text: t, logprob: total / chars.length })),
          totalLogprob: total,
        });
      }),
      usage: create(UsageSchema, { promptTokens, completionTokens: 0 }),
      workerId,
    });
  }

  /** The live workers: changes when a test adds a worker (a join) or marks one dead. */
  poolVersion(): string {
    return this.workers
      .map((w) => w.workerId)
      .filter((id) => !this.dead.has(id))
      .join(",");
  }

  async seat(req: SeatRequest): Promise<SeatInfo[]> {
    this.seatRequests.push(req);
    const out: SeatInfo[] = [];
    const usedNow = new Map<string, number>();
    // Free slots: the worker's slots less every seat this job still holds on it and every seat given now.
    const free = (w: ScriptedWorker) =>
      (w.slots ?? 1) -
      req.seatedWorkerIds.filter((id) => id === w.workerId).length -
      (usedNow.get(w.workerId) ?? 0);
    for (const d of req.roles) {
      const eligible = this.workers.filter(
        (w) =>
          (w.roles ?? [SeatRole.AGENT, SeatRole.PROPOSER, SeatRole.SOLO]).includes(d.role) &&
          !req.excludeWorkerIds.includes(w.workerId) &&
          !this.dead.has(w.workerId) &&
          free(w) > 0,
      );
      // Prefer workers not handed out before (a re-seat should bring in someone new).
      eligible.sort(
        (a, b) => Number(this.handedOut.has(a.workerId)) - Number(this.handedOut.has(b.workerId)),
      );
      const first = eligible[0];
      const chosen: ScriptedWorker[] = [];
      if (d.sameModel && first !== undefined) chosen.push(...Array.from({ length: d.count }, () => first));
      else {
        for (const w of eligible) {
          const n = Math.min(free(w), d.count - chosen.length);
          chosen.push(...Array.from({ length: Math.max(0, n) }, () => w));
        }
      }
      for (const w of chosen) {
        usedNow.set(w.workerId, (usedNow.get(w.workerId) ?? 0) + 1);
        this.handedOut.add(w.workerId);
        out.push({
          seat: create(SeatSchema, { role: d.role, workerId: w.workerId, modelName: w.modelName }),
          ...(w.host !== undefined ? { host: w.host } : {}),
          profile: w.profile,
        });
      }
    }
    return out;
  }

  /** Every prompt text sent to a worker (all messages, or the raw prompt). */
  promptsTo(workerId: string): string[] {
    return this.generateCalls
      .filter((c) => c.workerId === workerId)
      .map((c) => [c.system, c.user, c.raw].join("\n"))
      .concat(
        this.scoreCalls
          .filter((c) => c.workerId === workerId)
          .map((c) => [c.prompt, ...c.candidates].join("\n")),
      );
  }
}

/** Collects a job's events. */
export function collector(): { events: JobEvent[]; emit: (e: JobEvent) => void } {
  const events: JobEvent[] = [];
  return { events, emit: (e) => events.push(e) };
}

/** A clock that advances by `step` ms on every read, so durations are positive and deterministic. */
export function steppingClock(start = 1_700_000_000_000, step = 1): () => number {
  let t = start;
  return () => {
    t += step;
    return t;
  };
}

type EventBody = Exclude<JobEvent["event"], { case: undefined }>;
type EventValue<K extends EventBody["case"]> = Extract<EventBody, { case: K }>["value"];

/** The values of every event of one kind, in order. */
export function eventsOf<K extends EventBody["case"]>(
  events: readonly JobEvent[],
  kind: K,
): Array<EventValue<K>> {
  const out: Array<EventValue<K>> = [];
  for (const e of events) if (e.event.case === kind) out.push(e.event.value as EventValue<K>);
  return out;
}
