/**
 * The worker's model layer contract: plain TypeScript types, no protobuf, so the NATS service can map them
 * at its edge and tests can drive a backend directly.
 */

export type ChatRole = "system" | "user" | "assistant";

export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string;
}

/**
 * What the model reads: EITHER chat `messages` (formatted by the model's own chat template) OR a raw
 * `prompt` (plain completion, no chat wrapper — for task formats such as `Q 37+48=`).
 */
export type PromptInput =
  | { readonly messages: readonly ChatMessage[]; readonly prompt?: undefined }
  | { readonly prompt: string; readonly messages?: undefined };

/** Sampling parameters; an unset field means the backend's default. */
export interface SamplingParams {
  /** 0 = greedy. @default 0 on llama (node-llama-cpp's default); the server's default on openai */
  readonly temperature?: number;
  /** Nucleus sampling threshold in (0, 1]. @default 1 (off) */
  readonly topP?: number;
  /** Keep only the K most likely tokens; 0 = off. @default 0 */
  readonly topK?: number;
  /** Sampling seed; same seed + same request = same output. @default time-based */
  readonly seed?: number;
  /** Stop generating when any of these strings appears; the stop string is not part of the text. */
  readonly stop?: readonly string[];
  /** Repetition penalty (1 = off). @default the backend's default */
  readonly repeatPenalty?: number;
}

/**
 * A JSON Schema object, restricted to what both backends can enforce and the layer can validate:
 * type, properties, required, additionalProperties, items, prefixItems, min/maxItems, min/maxLength,
 * min/maxProperties, minimum/maximum, enum, const, oneOf, anyOf, format, $defs/$ref (`#/$defs/…`).
 * Bound every string (`maxLength`) and array (`maxItems`): tiny models fill unbounded ones.
 */
export type JsonSchema = { readonly [keyword: string]: unknown };

export type GenerateRequest = PromptInput & {
  readonly sampling?: SamplingParams;
  /** Upper bound on generated tokens (≥ 1). */
  readonly maxTokens: number;
  /** Constrain and validate the output as JSON of this schema. */
  readonly jsonSchema?: JsonSchema;
  /** Absolute deadline, Unix ms. Passing it stops generation (finishReason `deadline`). */
  readonly deadline?: number;
};

/**
 * - `stop`: end of sequence, a stop string, or the JSON grammar completed.
 * - `length`: `maxTokens` (or the end of the context) was reached.
 * - `cancelled` / `deadline`: stopped by the caller's signal or the deadline after the request got a slot.
 */
export type FinishReason = "stop" | "length" | "cancelled" | "deadline";

/** The JSON verdict when a schema was requested. Invalid output is reported, never silently accepted. */
export type JsonOutcome =
  | { readonly valid: true; readonly value: unknown }
  | { readonly valid: false; readonly code: "invalid_output"; readonly problems: readonly string[] };

export interface GenerateResult {
  readonly text: string;
  readonly finishReason: FinishReason;
  /** Tokens of the formatted prompt (chat template applied, BOS included). 0 when the upstream did not say. */
  readonly promptTokens: number;
  /** Prompt tokens served from the sequence's KV cache instead of being evaluated again. */
  readonly cachedPromptTokens: number;
  readonly completionTokens: number;
  /** Time waiting for a slot. */
  readonly queueMs: number;
  /** Start of evaluation to the first generated token (prompt evaluation). */
  readonly prefillMs: number;
  /** First generated token to the end. */
  readonly generateMs: number;
  /** Present exactly when `jsonSchema` was given. */
  readonly json?: JsonOutcome;
}

export interface GenerateCallOptions {
  /** Aborting stops generation at once. */
  readonly signal?: AbortSignal;
  /** Receives generated text pieces in order; their concatenation is `GenerateResult.text`. Must not throw. */
  readonly onText?: (piece: string) => void;
}

export type ScoreRequest = PromptInput & {
  /** Continuations to score; each is scored independently after the same prompt. */
  readonly candidates: readonly string[];
  /** Also score the end-of-sequence token after each candidate: P(candidate, then stop). @default false */
  readonly appendEos?: boolean;
  /** Absolute deadline, Unix ms. */
  readonly deadline?: number;
};

export interface TokenLogprob {
  readonly id: number;
  readonly text: string;
  /** Natural-log probability the model assigns to this token at its position. */
  readonly logprob: number;
}

export interface CandidateScore {
  /** The candidate's tokens (then EOS when `appendEos`). */
  readonly tokens: readonly TokenLogprob[];
  /** Sum of the tokens' log-probabilities. */
  readonly totalLogprob: number;
}

export interface ScoreResult {
  /** One entry per request candidate, in the same order. */
  readonly candidates: readonly CandidateScore[];
  readonly promptTokens: number;
  readonly queueMs: number;
  /** All evaluation time (prompt and candidates). */
  readonly prefillMs: number;
}

export interface ScoreCallOptions {
  readonly signal?: AbortSignal;
}

export type BackendKind = "llama" | "openai";

/** What the worker hosts, from the GGUF header (llama) or the upstream's model list (openai). */
export interface ModelDescriptor {
  /** general.name, else the file name (llama); the model id (openai). */
  readonly name: string;
  /** For diversity caps and profiles: general.basename when present, else the architecture. */
  readonly family: string;
  /** general.architecture ("llama", "qwen2", …); "unknown" when the upstream does not say. */
  readonly architecture: string;
  /** 0 when unknown. */
  readonly parameterCount: number;
  /** "Q4_K_M", "F16", …; "unknown" when unknown. */
  readonly quantization: string;
  /** Context length per slot the backend runs with. */
  readonly contextLength: number;
  /** Context length the model was trained for (0 when unknown). */
  readonly trainContextLength: number;
  /** 0 when unknown. */
  readonly fileSizeBytes: number;
  /** Path, `hf:` URI or upstream URL the model came from (never credentials). */
  readonly source: string;
  readonly backend: BackendKind;
  readonly hasChatTemplate: boolean;
  /** The GGUF's own Jinja chat template, when it has one. */
  readonly chatTemplate?: string;
  /** Whether `score()` works on this backend. */
  readonly supportsScoring: boolean;
}

export interface SlotStats {
  readonly total: number;
  readonly active: number;
  readonly queued: number;
  /** Queue places per slot; beyond `total × queueLimit` waiting requests the backend answers busy. */
  readonly queueLimit: number;
}

export interface BackendMemory {
  /** Bytes of model weights (0 for openai: not ours). */
  readonly modelBytes: number;
  /** Bytes of the contexts (KV cache and buffers). */
  readonly contextBytes: number;
  /** Of the above, how much lives in VRAM. */
  readonly vramBytes: number;
  /** Transformer layers offloaded to the GPU. */
  readonly gpuLayers: number;
}

/** One hosted model. The NATS service calls it; it knows nothing about NATS. */
export interface ModelBackend {
  readonly kind: BackendKind;
  /** Parallel sequences: how many requests run at once. */
  readonly slots: number;
  descriptor(): ModelDescriptor;
  /**
   * Generates text. Rejects with BackendError `busy` / `cancelled` / `deadline_exceeded` only when the
   * request never got a slot; once it has one, an abort or the deadline stops generation at once and the call
   * resolves with the partial text and finishReason `cancelled` / `deadline`.
   * Other rejections: `bad_request`, `context_overflow`, `model_error`, `unavailable`.
   */
  generate(req: GenerateRequest, options?: GenerateCallOptions): Promise<GenerateResult>;
  /** Per-token log-probabilities of each candidate after the prompt (prefill only, no sampling). */
  score(req: ScoreRequest, options?: ScoreCallOptions): Promise<ScoreResult>;
  slotStats(): SlotStats;
  /** Subscribe to slot changes (a request started, queued or finished); returns the unsubscribe. */
  onSlotChange(listener: (stats: SlotStats) => void): () => void;
  memory(): BackendMemory;
  /** Rejects queued requests, aborts running ones and frees the model. Idempotent. */
  close(): Promise<void>;
}

/** Progress of long startup steps, for a person at a terminal or a structured log. */
export type BackendProgress =
  | { readonly phase: "download"; readonly downloadedBytes: number; readonly totalBytes: number }
  | { readonly phase: "load"; readonly fraction: number }
  | { readonly phase: "self-bench"; readonly run: number; readonly runs: number };
