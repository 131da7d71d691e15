/**
 * A deterministic scripted model behind the real ModelBackend interface: the one fake allowed at the model
 * edge, for protocol tests and benchmarks that need exact, instant or precisely slow answers. It uses the
 * worker's real slot queue and request scope, so busy/cancel/deadline behave as in the real backends.
 */
import { BackendError } from "../../worker/src/backends/errors.js";
import { openRequestScope } from "../../worker/src/backends/request-scope.js";
import type {
  BackendMemory,
  GenerateCallOptions,
  GenerateRequest,
  GenerateResult,
  ModelBackend,
  ModelDescriptor,
  ScoreCallOptions,
  ScoreRequest,
  ScoreResult,
  SlotStats,
} from "../../worker/src/backends/types.js";
import { SlotQueue } from "../../worker/src/slot-queue.js";

export interface ScriptedBackendOptions {
  name?: string;
  family?: string;
  parameterCount?: number;
  /** @default 1 */
  slots?: number;
  /** @default 4 */
  queuePerSlot?: number;
  /** The full answer to a request. @default echoes the last user message */
  respond?: (req: GenerateRequest, call: number) => string;
  /** Delay between tokens in ms (0 = as fast as the event loop allows). @default 0 */
  tokenDelayMs?: number | ((req: GenerateRequest) => number);
  /** Delay before the first token (prefill). @default 0 */
  prefillDelayMs?: number | ((req: GenerateRequest) => number);
  /** Log-probability of each candidate token; default: -0.1 per character. */
  scoreToken?: (req: ScoreRequest, candidate: number, piece: string) => number;
  /** Throw this instead of answering. */
  fail?: (req: GenerateRequest, call: number) => BackendError | undefined;
  /** Whether score() works. @default true */
  supportsScoring?: boolean;
}

/** Splits text into "tokens": words with their leading whitespace. */
export function scriptedTokens(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? [];
}

function lastUserText(req: GenerateRequest | ScoreRequest): string {
  if (req.prompt !== undefined) return req.prompt;
  const msgs = req.messages ?? [];
  for (let i = msgs.length - 1; i >= 0; i--) if (msgs[i]?.role === "user") return msgs[i]?.content ?? "";
  return "";
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    // An already-aborted signal never fires "abort" again: do not wait at all.
    if (ms <= 0 || signal.aborted) {
      setImmediate(resolve);
      return;
    }
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });

export class ScriptedBackend implements ModelBackend {
  readonly kind = "llama" as const;
  readonly slots: number;
  readonly #queue: SlotQueue;
  readonly #o: ScriptedBackendOptions;
  #calls = 0;
  /** The last generate requests received, in order (for assertions on what a model was sent). */
  readonly received: GenerateRequest[] = [];
  readonly scored: ScoreRequest[] = [];

  constructor(options: ScriptedBackendOptions = {}) {
    this.#o = options;
    this.slots = options.slots ?? 1;
    this.#queue = new SlotQueue({ slots: this.slots, queuePerSlot: options.queuePerSlot ?? 4 });
  }

  descriptor(): ModelDescriptor {
    return {
      name: this.#o.name ?? "scripted",
      family: this.#o.family ?? "scripted",
      architecture: "scripted",
      parameterCount: this.#o.parameterCount ?? 1_000_000,
      quantization: "none",
      contextLength: 4096,
      trainContextLength: 4096,
      fileSizeBytes: 0,
      source: "scripted",
      backend: "llama",
      hasChatTemplate: true,
      supportsScoring: this.#o.supportsScoring ?? true,
    };
  }

  async generate(req: GenerateRequest, options: GenerateCallOptions = {}): Promise<GenerateResult> {
    const call = this.#calls++;
    this.received.push(req);
    // Bounded: benchmarks send thousands of requests.
    if (this.received.length > 1000) this.received.shift();
    const scope = openRequestScope({ signal: options.signal, deadline: req.deadline });
    try {
      const lease = await this.#queue.acquire(scope.signal);
      try {
        const failure = this.#o.fail?.(req, call);
        if (failure) throw failure;
        const text = this.#o.respond ? this.#o.respond(req, call) : lastUserText(req);
        const tokens = scriptedTokens(text).slice(0, req.maxTokens);
        const prefill =
          typeof this.#o.prefillDelayMs === "function"
            ? this.#o.prefillDelayMs(req)
            : (this.#o.prefillDelayMs ?? 0);
        const delay =
          typeof this.#o.tokenDelayMs === "function"
            ? this.#o.tokenDelayMs(req)
            : (this.#o.tokenDelayMs ?? 0);
        const t0 = performance.now();
        if (prefill > 0) await sleep(prefill, scope.signal);
        const t1 = performance.now();
        let out = "";
        let n = 0;
        for (const token of tokens) {
          if (scope.signal.aborted) break;
          if (delay > 0) await sleep(delay, scope.signal);
          if (scope.signal.aborted) break;
          out += token;
          n += 1;
          options.onText?.(token);
        }
        const stopped = scope.stoppedBy();
        const full = scriptedTokens(text).length;
        return {
          text: out,
          finishReason: stopped ?? (full > req.maxTokens ? "length" : "stop"),
          promptTokens: Math.max(1, Math.ceil(lastUserText(req).length / 4)),
          cachedPromptTokens: 0,
          completionTokens: n,
          queueMs: lease.queuedMs,
          prefillMs: t1 - t0,
          generateMs: performance.now() - t1,
        };
      } finally {
        lease.release();
      }
    } finally {
      scope.dispose();
    }
  }

  async score(req: ScoreRequest, options: ScoreCallOptions = {}): Promise<ScoreResult> {
    if (!(this.#o.supportsScoring ?? true))
      throw new BackendError("unsupported", "scripted backend: no scoring");
    this.scored.push(req);
    const scope = openRequestScope({ signal: options.signal, deadline: req.deadline });
    try {
      const lease = await this.#queue.acquire(scope.signal);
      try {
        return {
          candidates: req.candidates.map((c, ci) => {
            const pieces = [...c, ...(req.appendEos ? ["</s>"] : [])];
            const tokens = pieces.map((p, i) => ({
              id: i,
              text: p,
              logprob: this.#o.scoreToken ? this.#o.scoreToken(req, ci, p) : -0.1,
            }));
            return { tokens, totalLogprob: tokens.reduce((s, t) => s + t.logprob, 0) };
          }),
          promptTokens: Math.ceil(lastUserText(req).length / 4),
          queueMs: lease.queuedMs,
          prefillMs: 0,
        };
      } finally {
        lease.release();
      }
    } finally {
      scope.dispose();
    }
  }

  slotStats(): SlotStats {
    return this.#queue.stats();
  }

  onSlotChange(listener: (stats: SlotStats) => void): () => void {
    return this.#queue.onChange(listener);
  }

  memory(): BackendMemory {
    return { modelBytes: 0, contextBytes: 0, vramBytes: 0, gpuLayers: 0 };
  }

  async close(): Promise<void> {
    this.#queue.close();
  }
}
