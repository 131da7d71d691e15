/**
 * The deliberation engine's only doors to the outside world. Everything the engine knows about models and
 * workers comes through these two ports, so the engine runs unchanged against scripted agents (tests) and
 * against real workers over NATS (the coordinator wires an adapter that speaks the worker's NATS API).
 */
import type { EvaluationMode, Seat, Strategy } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import type {
  InferenceRequest,
  InferenceResult,
  ScoreRequest,
  ScoreResult,
} from "../../../proto/gen/conclave/v1/inference_pb.js";
import type { SeatRole } from "../../../proto/gen/conclave/v1/plan_pb.js";

/** Options of one model call. */
export interface ModelCallOptions {
  /** Aborted when the call's deadline passes or the job is cancelled; the port should stop the request. */
  signal: AbortSignal;
}

/**
 * Exactly the worker's NATS API. Implementations throw `ConclaveError` (proto/src/errors.ts) on busy,
 * deadline exceeded, model error, context overflow, or a worker that is gone (UNAVAILABLE / NOT_FOUND).
 * The engine never trusts a port to honour `signal`: it races every call against its own deadline.
 */
export interface ModelPort {
  /** Generates a completion (chat or raw prompt) on the worker. */
  generate(workerId: string, req: InferenceRequest, opts: ModelCallOptions): Promise<InferenceResult>;
  /** Per-token log-probabilities of each candidate continuation of the prompt (prefill only). */
  score(workerId: string, req: ScoreRequest, opts: ModelCallOptions): Promise<ScoreResult>;
}

/** How a model wants to be prompted. */
export type PromptFormat = "chat" | "raw";

/**
 * Which log-probability the likelihood evaluator turns into a weight.
 * - `total`: log P(whole answer, then end of sequence). Right for short exact answers (numbers, labels).
 * - `mean`: mean per-token log-probability. Right for long free text, where the total punishes length.
 */
export type LikelihoodBasis = "total" | "mean";

/**
 * Prompt templates for raw-format models (no chat template, a trained task format). Placeholders:
 * `{task}` is the job's task text, `{candidate}` a peer's answer.
 */
export interface RawTemplates {
  /** Proposal prompt, e.g. `Q {task}=`; also the prompt under which likelihood mode scores peers' answers. */
  propose: string;
  /** Per-candidate verdict prompt, e.g. `V {task}={candidate} ?`; needed for per-candidate evaluation. */
  verify?: string;
}

/** Caps on completion tokens per call kind; the engine uses the smaller of these and the job's own limit. */
export interface MaxTokenHints {
  propose?: number;
  evaluate?: number;
  verdict?: number;
  aggregate?: number;
}

/** What the engine needs to know about the model behind a seat. Comes from the model profile file. */
export interface AgentProfile {
  /** `chat`: chat template and JSON-schema output; `raw`: plain completion prompts built from `templates`. */
  format: PromptFormat;
  /** Evaluation mode used when the job leaves `evaluation_mode` unset (or asks for one this model cannot do). */
  evaluationMode: EvaluationMode;
  /** Required when `format` is `raw`. */
  templates?: RawTemplates;
  /**
   * Verdict word → endorsement weight for per-candidate evaluation, e.g. `{ Y: 100, N: -100 }`.
   * @default { yes: 100, no: -100, unsure: 0 } for chat models
   */
  verdicts?: Readonly<Record<string, number>>;
  /** Whether the model can synthesise an answer from others' answers (aggregator, chairman). */
  canAggregate: boolean;
  maxTokens?: MaxTokenHints;
  /** @default "total" for raw models, "mean" for chat models */
  likelihoodBasis?: LikelihoodBasis;
  /** Extra words that identify this model (family, vendor, nickname), scrubbed from what peers see. */
  identityTerms?: readonly string[];
  /**
   * Tokens one slot of the seat's worker holds (prompt plus completion), from its telemetry. The engine fits
   * every prompt it sends to this seat into it: completions get at most a share of it, peer texts are cut
   * (marked `[truncated]`) and the state view shrinks; a call whose shortest form still does not fit fails
   * before it is sent. See context-fit.ts.
   * @default undefined (0 or undefined: unknown; prompts are not fitted)
   */
  contextLength?: number;
}

/** A seat as the provider hands it out. */
export interface SeatInfo {
  /** The engine assigns `seat_id` itself (ids stay unique over re-seats); `role` must match the demand. */
  seat: Seat;
  /** Host name of the worker, when known: scrubbed from everything agents see. */
  host?: string;
  profile: AgentProfile;
}

/** How many seats of one role a strategy needs. */
export interface RoleDemand {
  role: SeatRole;
  /** Seats wanted. */
  count: number;
  /** Fewest seats the strategy can run with; fewer than this and the job fails. */
  min: number;
  /**
   * All seats of this role should be the same (best) model, possibly the same worker several times
   * (Self-MoA). The provider decides; the engine does not enforce it.
   */
  sameModel?: boolean;
}

export interface SeatRequest {
  strategy: Strategy;
  roles: readonly RoleDemand[];
  /**
   * Workers that failed this job (dead, timed out, unavailable, model error): never seat them again. A
   * worker whose call failed for a reason that is not its fault (context overflow, invalid argument,
   * invalid output) is never listed.
   */
  excludeWorkerIds: readonly string[];
  /**
   * The workers of the seats this job still holds (a re-seat keeps them), one entry per seat: a worker
   * holding two seats appears twice. The provider subtracts every occurrence from the worker's free slots
   * (a 1-slot worker listed once has no slot left) and counts them for its diversity limits. Empty for the
   * first seating.
   */
  seatedWorkerIds: readonly string[];
  /** The round the seats are for (1 for the initial seating, r + 1 for a re-seat after round r). */
  round: number;
  signal: AbortSignal;
}

/**
 * Chooses workers for seats (the broker). Throws `ConclaveError(FAILED_PRECONDITION, reason)` when no valid
 * seating exists; may return fewer seats than asked (the engine checks `min`).
 */
export interface SeatProvider {
  seat(req: SeatRequest): Promise<SeatInfo[]>;
  /**
   * Names the pool the provider seats from (say, its live workers); it changes when a worker joins or
   * leaves. A running job with empty seats asks for more only when this changed, so a worker that joins
   * mid-job is put to work at the next round without a broker call every round. Without it a job keeps
   * the seats it started with (plus re-seats after faults).
   */
  poolVersion?(): string;
}

/** Counts the tokens of a text for budgets (the state view's hard budget, prompt-size accounting). */
export type TokenCounter = (text: string) => number;

/** A uniform random number in [0, 1). Injected so tests and replays are deterministic. */
export type Random = () => number;
