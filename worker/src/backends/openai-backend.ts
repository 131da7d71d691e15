/**
 * The `openai` backend: fronts an existing OpenAI-compatible server (Ollama, llama-server, vLLM, LM Studio)
 * over fetch. Chat → /chat/completions, raw prompts → /completions; streamed (SSE) when the caller wants
 * text pieces, else one JSON response. JSON schemas use the server's JSON mode and are validated here
 * exactly as on the llama backend. Scoring uses /completions with `echo` + `logprobs` where offered.
 */
import { type SlotLease, SlotQueue } from "../slot-queue.js";
import { BackendError, ModelStartupError } from "./errors.js";
import { evaluateJsonOutput } from "./json-output.js";
import { describeUpstreamModel, type UpstreamModel } from "./openai-descriptor.js";
import {
  errorFromStatus,
  errorMessageOf,
  finishReasonOf,
  headersFor,
  networkCause,
  type WireResponse,
} from "./openai-http.js";
import { readSseData } from "./openai-sse.js";
import { openRequestScope, type RequestScope } from "./request-scope.js";
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
} from "./types.js";
import { assertValidGenerateRequest, assertValidScoreRequest } from "./validate-request.js";

export interface OpenAiBackendOptions {
  /** API root including the version, e.g. `http://127.0.0.1:11434/v1`. */
  readonly baseUrl: string;
  /** Model id on the server. @default the first model the server lists */
  readonly model?: string;
  /** Sent as a bearer token; never logged. */
  readonly apiKey?: string;
  /** Requests sent to the server at once. @default 1 */
  readonly parallel?: number;
  /** Waiting places per slot before answering busy. @default 4 */
  readonly queuePerSlot?: number;
  /** Context length, when the server does not report it. */
  readonly contextLength?: number;
  /** How to ask for JSON: a full schema (OpenAI, vLLM, llama-server, Ollama) or plain JSON mode. @default "json_schema" */
  readonly jsonMode?: "json_schema" | "json_object";
  /** Probe at start whether /completions returns echoed logprobs (likelihood scoring). @default true */
  readonly probeScoring?: boolean;
  /** Timeout of the startup requests (model list, scoring probe). @default 5000 */
  readonly startupTimeoutMs?: number;
}

export interface OpenAiBackendDeps {
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Wall clock (Unix ms) for deadlines. @default Date.now */
  readonly now?: () => number;
}

/** Connects to the server (listing its models) and returns a ready backend. */
export async function createOpenAiBackend(
  options: OpenAiBackendOptions,
  deps: OpenAiBackendDeps = {},
): Promise<OpenAiBackend> {
  const fetchFn = deps.fetch ?? globalThis.fetch;
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const timeout = options.startupTimeoutMs ?? 5000;
  let listed: UpstreamModel[];
  try {
    const response = await fetchFn(`${baseUrl}/models`, {
      headers: headersFor(options.apiKey),
      signal: AbortSignal.timeout(timeout),
    });
    if (!response.ok) {
      throw new ModelStartupError(
        "upstream_unreachable",
        `upstream ${baseUrl} answered ${response.status} to GET /models: ${await errorMessageOf(response)}`,
      );
    }
    const body = (await response.json()) as { data?: UpstreamModel[] };
    listed = Array.isArray(body.data) ? body.data : [];
  } catch (err) {
    if (err instanceof ModelStartupError) throw err;
    throw new ModelStartupError(
      "upstream_unreachable",
      `cannot reach the upstream server at ${baseUrl}: ${networkCause(err)}`,
      { cause: err },
    );
  }
  const wanted = options.model ?? listed[0]?.id;
  const model = listed.find((m) => m.id === wanted);
  if (wanted === undefined || (options.model !== undefined && model === undefined && listed.length > 0)) {
    const ids = listed.map((m) => m.id);
    throw new ModelStartupError(
      "bad_config",
      `model ${JSON.stringify(options.model ?? "")} is not served by ${baseUrl}; it lists ${JSON.stringify(ids)}`,
      { details: ids },
    );
  }
  const backend = new OpenAiBackend(baseUrl, options, fetchFn, deps.now ?? Date.now, model ?? { id: wanted });
  if (options.probeScoring ?? true) await backend.probeScoring(timeout);
  return backend;
}

export class OpenAiBackend implements ModelBackend {
  readonly kind = "openai";
  readonly slots: number;
  readonly #baseUrl: string;
  readonly #options: OpenAiBackendOptions;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #queue: SlotQueue;
  readonly #closing = new AbortController();
  readonly #upstream: UpstreamModel;
  #supportsScoring = false;
  #closed = false;

  constructor(
    baseUrl: string,
    options: OpenAiBackendOptions,
    fetchFn: typeof fetch,
    now: () => number,
    upstream: UpstreamModel,
  ) {
    this.#baseUrl = baseUrl;
    this.#options = options;
    this.#fetch = fetchFn;
    this.#now = now;
    this.#upstream = upstream;
    this.slots = options.parallel ?? 1;
    this.#queue = new SlotQueue({ slots: this.slots, queuePerSlot: options.queuePerSlot ?? 4 });
  }

  descriptor(): ModelDescriptor {
    return describeUpstreamModel(this.#upstream, {
      source: this.#baseUrl,
      ...(this.#options.contextLength === undefined ? {} : { contextLength: this.#options.contextLength }),
      supportsScoring: this.#supportsScoring,
    });
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
    this.#closed = true;
    this.#queue.close(new BackendError("unavailable", "backend is closing"));
    this.#closing.abort(new BackendError("cancelled", "backend is closing"));
  }

  /** Whether /completions echoes prompt logprobs; sets `descriptor().supportsScoring`. */
  async probeScoring(timeoutMs: number): Promise<boolean> {
    try {
      const logprobs = await this.#echoLogprobs("Hello", AbortSignal.timeout(timeoutMs));
      this.#supportsScoring = logprobs.length > 0;
    } catch {
      this.#supportsScoring = false;
    }
    return this.#supportsScoring;
  }

  async generate(req: GenerateRequest, options: GenerateCallOptions = {}): Promise<GenerateResult> {
    assertValidGenerateRequest(req);
    return this.#admit(options.signal, req.deadline, (lease, scope) =>
      this.#generate(lease, scope, req, options.onText),
    );
  }

  async score(req: ScoreRequest, options: ScoreCallOptions = {}): Promise<ScoreResult> {
    assertValidScoreRequest(req);
    if (req.messages !== undefined) {
      throw new BackendError(
        "unsupported",
        "the openai backend scores raw prompts only (it cannot render the chat template)",
      );
    }
    if (req.appendEos === true) {
      throw new BackendError("unsupported", "the openai backend cannot score the end-of-sequence token");
    }
    if (!this.#supportsScoring) {
      throw new BackendError("unsupported", `upstream ${this.#baseUrl} does not return prompt logprobs`);
    }
    const prompt = req.prompt;
    return this.#admit(options.signal, req.deadline, async (lease, scope) => {
      const started = performance.now();
      const candidates = [];
      let promptTokens = 0;
      for (const candidate of req.candidates) {
        const tokens = await this.#echoLogprobs(prompt + candidate, scope.signal);
        const inCandidate = tokens.filter(
          (t) => t.offset >= prompt.length && t.offset < prompt.length + candidate.length,
        );
        promptTokens = tokens.filter((t) => t.offset < prompt.length).length;
        candidates.push({
          // Upstreams report token text, not ids.
          tokens: inCandidate.map((t) => ({ id: -1, text: t.text, logprob: t.logprob })),
          totalLogprob: inCandidate.reduce((sum, t) => sum + t.logprob, 0),
        });
      }
      return { candidates, promptTokens, queueMs: lease.queuedMs, prefillMs: performance.now() - started };
    });
  }

  async #admit<T>(
    signal: AbortSignal | undefined,
    deadline: number | undefined,
    run: (lease: SlotLease, scope: RequestScope) => Promise<T>,
  ): Promise<T> {
    if (this.#closed) throw new BackendError("unavailable", "backend is closed");
    const scope = openRequestScope({
      ...(signal === undefined ? {} : { signal }),
      alsoCancelledBy: [this.#closing.signal],
      ...(deadline === undefined ? {} : { deadline }),
      now: this.#now,
    });
    try {
      const lease = await this.#queue.acquire(scope.signal);
      try {
        return await run(lease, scope);
      } finally {
        lease.release();
      }
    } finally {
      scope.dispose();
    }
  }

  async #post(path: string, body: unknown, signal: AbortSignal): Promise<Response> {
    let response: Response;
    try {
      response = await this.#fetch(`${this.#baseUrl}${path}`, {
        method: "POST",
        headers: headersFor(this.#options.apiKey),
        body: JSON.stringify(body),
        signal,
      });
    } catch (err) {
      if (signal.aborted) throw err;
      throw new BackendError("unavailable", `cannot reach ${this.#baseUrl}: ${networkCause(err)}`, {
        cause: err,
      });
    }
    if (!response.ok) throw errorFromStatus(response.status, await errorMessageOf(response));
    return response;
  }

  async #generate(
    lease: SlotLease,
    scope: RequestScope,
    req: GenerateRequest,
    onText: ((piece: string) => void) | undefined,
  ): Promise<GenerateResult> {
    const stream = onText !== undefined;
    const chat = req.messages !== undefined;
    const s = req.sampling ?? {};
    const body = {
      model: this.#upstream.id,
      ...(chat ? { messages: req.messages } : { prompt: req.prompt }),
      max_tokens: req.maxTokens,
      ...(s.temperature === undefined ? {} : { temperature: s.temperature }),
      ...(s.topP === undefined ? {} : { top_p: s.topP }),
      // top_k and repeat_penalty are not OpenAI's, but llama-server, vLLM and Ollama accept them.
      ...(s.topK === undefined ? {} : { top_k: s.topK }),
      ...(s.repeatPenalty === undefined ? {} : { repeat_penalty: s.repeatPenalty }),
      ...(s.seed === undefined ? {} : { seed: s.seed }),
      ...(s.stop === undefined || s.stop.length === 0 ? {} : { stop: s.stop }),
      ...(req.jsonSchema === undefined
        ? {}
        : {
            response_format:
              this.#options.jsonMode === "json_object"
                ? { type: "json_object" }
                : {
                    type: "json_schema",
                    json_schema: { name: "output", schema: req.jsonSchema, strict: true },
                  },
          }),
      stream,
      ...(stream ? { stream_options: { include_usage: true } } : {}),
    };
    const pieces: string[] = [];
    let wire: WireResponse = {};
    let finish: string | null | undefined;
    let chunks = 0;
    let firstAt: number | undefined;
    const started = performance.now();
    try {
      const response = await this.#post(chat ? "/chat/completions" : "/completions", body, scope.signal);
      if (stream && response.body) {
        for await (const data of readSseData(response.body)) {
          const event = JSON.parse(data) as WireResponse;
          const choice = event.choices?.[0];
          const piece = (chat ? choice?.delta?.content : choice?.text) ?? "";
          if (piece !== "") {
            firstAt ??= performance.now();
            chunks += 1;
            pieces.push(piece);
            onText?.(piece);
          }
          finish = choice?.finish_reason ?? finish;
          if (event.usage) wire = { ...wire, usage: event.usage };
          if (event.timings) wire = { ...wire, timings: event.timings };
        }
      } else {
        wire = (await response.json()) as WireResponse;
        const choice = wire.choices?.[0];
        pieces.push((chat ? choice?.message?.content : choice?.text) ?? "");
        finish = choice?.finish_reason;
      }
    } catch (err) {
      if (!scope.signal.aborted) {
        if (err instanceof BackendError) throw err;
        throw new BackendError(
          "model_error",
          `bad response from ${this.#baseUrl}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    }
    const ended = performance.now();
    const text = pieces.join("");
    const stopped = scope.signal.aborted ? (scope.stoppedBy() ?? "cancelled") : undefined;
    const finishReason = stopped ?? finishReasonOf(finish);
    // Prefer the server's own timings (llama-server); else time to first chunk when streaming.
    const first = firstAt ?? (stream ? ended : started);
    const prefillMs = wire.timings?.prompt_ms ?? first - started;
    const generateMs = wire.timings?.predicted_ms ?? ended - first;
    return {
      text,
      finishReason,
      promptTokens: wire.usage?.prompt_tokens ?? 0,
      cachedPromptTokens: wire.usage?.prompt_tokens_details?.cached_tokens ?? wire.timings?.cache_n ?? 0,
      completionTokens: wire.usage?.completion_tokens ?? chunks,
      queueMs: lease.queuedMs,
      prefillMs,
      generateMs,
      ...(req.jsonSchema === undefined
        ? {}
        : { json: evaluateJsonOutput(text, req.jsonSchema, finishReason === "length") }),
    };
  }

  /** Echoed prompt tokens with their logprobs (the first token has none and is left out). */
  async #echoLogprobs(
    prompt: string,
    signal: AbortSignal,
  ): Promise<{ text: string; offset: number; logprob: number }[]> {
    const response = await this.#post(
      "/completions",
      { model: this.#upstream.id, prompt, max_tokens: 1, echo: true, logprobs: 1, temperature: 0 },
      signal,
    );
    const wire = (await response.json()) as WireResponse;
    const lp = wire.choices?.[0]?.logprobs;
    if (!lp?.tokens || !lp.token_logprobs || !lp.text_offset) {
      throw new BackendError("unsupported", `upstream ${this.#baseUrl} returned no echoed logprobs`);
    }
    const out: { text: string; offset: number; logprob: number }[] = [];
    lp.tokens.forEach((text, i) => {
      const logprob = lp.token_logprobs?.[i];
      const offset = lp.text_offset?.[i];
      if (typeof logprob === "number" && typeof offset === "number" && offset < prompt.length) {
        out.push({ text, offset, logprob });
      }
    });
    return out;
  }
}
