/**
 * A real OpenAI-compatible HTTP server for tests, backed by real inference (node-llama-cpp running a tiny
 * GGUF), on 127.0.0.1 and an ephemeral port. It speaks the parts of the API the openai backend uses:
 * GET /v1/models; POST /v1/chat/completions and /v1/completions, streaming (SSE, with include_usage) and not;
 * response_format json_object / json_schema (grammar-enforced); /v1/completions with echo + logprobs
 * (prompt-token log-probabilities, as vLLM offers). It is written against node-llama-cpp directly — not our
 * backend — so tests of the openai backend check it against an independent implementation.
 * A client that disconnects aborts its generation, as real servers do.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { basename } from "node:path";
import {
  type ChatHistoryItem,
  type ControlledEvaluateInputItem,
  getLlama,
  type Llama,
  LlamaChat,
  LlamaCompletion,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaGrammar,
  LlamaLogLevel,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";

export interface OpenAiTestServerOptions {
  readonly modelPath: string;
  /** @default the file name */
  readonly modelId?: string;
  /** Tokens per sequence. @default 512 */
  readonly contextSize?: number;
  /** Requests served at once; more wait. @default 2 */
  readonly parallel?: number;
  readonly batchSize?: number;
  /** Share the test's Llama instance. @default a new one with maxThreads 1 */
  readonly llama?: Llama;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
}

export interface OpenAiTestServer {
  /** API root, e.g. `http://127.0.0.1:40123/v1`. */
  readonly url: string;
  readonly requests: readonly RecordedRequest[];
  /** Generations stopped because the client went away. */
  abortedGenerations(): number;
  close(): Promise<void>;
}

interface Sequence {
  readonly sequence: LlamaContextSequence;
  readonly chat: LlamaChat;
  readonly completion: LlamaCompletion;
}

type Json = Record<string, unknown>;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = "invalid_request_error",
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Json> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    const parsed: unknown = JSON.parse(text || "{}");
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new Error("not an object");
    return parsed as Json;
  } catch {
    throw new HttpError(400, "request body is not a JSON object");
  }
}

function toHistory(messages: unknown): ChatHistoryItem[] {
  if (!Array.isArray(messages) || messages.length === 0)
    throw new HttpError(400, "messages must be a non-empty array");
  return messages.map((m: { role?: unknown; content?: unknown }) => {
    const content = typeof m.content === "string" ? m.content : "";
    if (m.role === "system") return { type: "system", text: content };
    if (m.role === "assistant") return { type: "model", response: [content] };
    if (m.role === "user") return { type: "user", text: content };
    throw new HttpError(400, `unknown role ${JSON.stringify(m.role)}`);
  });
}

export async function startOpenAiTestServer(options: OpenAiTestServerOptions): Promise<OpenAiTestServer> {
  const llama =
    options.llama ?? (await getLlama({ gpu: false, maxThreads: 1, logLevel: LlamaLogLevel.error }));
  const model: LlamaModel = await llama.loadModel({ modelPath: options.modelPath });
  const parallel = options.parallel ?? 2;
  const context: LlamaContext = await model.createContext({
    contextSize: options.contextSize ?? 512,
    sequences: parallel,
    threads: 1,
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
  });
  const free: Sequence[] = Array.from({ length: parallel }, () => {
    const sequence = context.getSequence();
    return {
      sequence,
      chat: new LlamaChat({ contextSequence: sequence }),
      completion: new LlamaCompletion({ contextSequence: sequence }),
    };
  });
  const waiting: ((s: Sequence) => void)[] = [];
  const take = (): Promise<Sequence> => {
    const s = free.pop();
    return s ? Promise.resolve(s) : new Promise((resolve) => waiting.push(resolve));
  };
  const give = (s: Sequence): void => {
    const next = waiting.shift();
    if (next) next(s);
    else free.push(s);
  };
  const modelId = options.modelId ?? basename(options.modelPath);
  const requests: RecordedRequest[] = [];
  let aborted = 0;
  const grammars = new Map<string, Promise<LlamaGrammar>>();

  const grammarFor = (format: unknown): Promise<LlamaGrammar> | undefined => {
    if (typeof format !== "object" || format === null) return undefined;
    const f = format as { type?: unknown; json_schema?: { schema?: unknown } };
    if (f.type === "json_object") return llama.getGrammarFor("json");
    if (f.type === "json_schema") {
      const schema = f.json_schema?.schema;
      if (typeof schema !== "object" || schema === null)
        throw new HttpError(400, "json_schema.schema is required");
      const key = JSON.stringify(schema);
      let grammar = grammars.get(key);
      if (!grammar) {
        grammar = llama.createGrammarForJsonSchema(
          schema as Parameters<Llama["createGrammarForJsonSchema"]>[0],
        );
        grammars.set(key, grammar);
      }
      return grammar;
    }
    if (f.type === "text") return undefined;
    throw new HttpError(400, `unsupported response_format ${JSON.stringify(f.type)}`);
  };

  const promptTokensOf = (prompt: string): Token[] => {
    const bos = model.tokens.bos;
    return [...(bos === null ? [] : [bos]), ...model.tokenize(prompt, false, "trimLeadingSpace")];
  };

  /** Prompt-token logprobs, computed token by token from full probability distributions. */
  const echoLogprobs = async (s: Sequence, prompt: string): Promise<Json> => {
    const tokens = promptTokensOf(prompt);
    await s.sequence.clearHistory();
    const out = await s.sequence.controlledEvaluate(
      tokens.map(
        (t, i): ControlledEvaluateInputItem =>
          i < tokens.length - 1 ? [t, { generateNext: { probabilities: true } }] : t,
      ),
    );
    const textTokens = tokens.slice(model.tokens.bos === null ? 0 : 1);
    const first = model.tokens.bos === null ? 1 : 0;
    const offsets: number[] = [];
    const logprobs: (number | null)[] = [];
    textTokens.forEach((t, j) => {
      offsets.push(model.detokenize(textTokens.slice(0, j)).length);
      const i = j + (tokens.length - textTokens.length) - 1;
      const p = i >= 0 && j >= first ? out[i]?.next.probabilities?.get(t) : undefined;
      logprobs.push(p === undefined ? null : Math.log(p));
    });
    return {
      // Token text as servers report it: the piece of the prompt text it covers (leading space included).
      tokens: textTokens.map((_, j) => {
        const end = j + 1 < offsets.length ? offsets[j + 1] : model.detokenize(textTokens).length;
        return model.detokenize(textTokens).slice(offsets[j], end);
      }),
      token_logprobs: logprobs,
      text_offset: offsets,
      top_logprobs: null,
    };
  };

  const handleGeneration = async (
    req: IncomingMessage,
    res: ServerResponse,
    chat: boolean,
  ): Promise<void> => {
    const body = await readBody(req);
    requests.push({ method: "POST", path: req.url ?? "", body });
    const maxTokens = Number(body.max_tokens ?? body.max_completion_tokens ?? 256);
    const stream = body.stream === true;
    const includeUsage =
      (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
    const grammar = await grammarFor(body.response_format);
    const stop =
      typeof body.stop === "string" ? [body.stop] : Array.isArray(body.stop) ? (body.stop as string[]) : [];
    const history = chat ? toHistory(body.messages) : undefined;
    if (!chat && typeof body.prompt !== "string") throw new HttpError(400, "prompt must be a string");
    const prompt = String(body.prompt ?? "");

    const s = await take();
    const controller = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) {
        aborted += 1;
        controller.abort(new Error("client disconnected"));
      }
    };
    res.on("close", onClose);
    try {
      const id = `cmpl-${Math.random().toString(36).slice(2)}`;
      const object = chat ? "chat.completion" : "text_completion";
      if (!chat && body.echo === true && body.logprobs !== undefined && body.logprobs !== null) {
        const logprobs = await echoLogprobs(s, prompt);
        const count = (logprobs.tokens as unknown[]).length;
        sendJson(res, 200, {
          id,
          object,
          model: modelId,
          choices: [{ index: 0, text: prompt, logprobs, finish_reason: "length" }],
          usage: { prompt_tokens: count, completion_tokens: 0, total_tokens: count },
        });
        return;
      }
      const promptCount = chat
        ? s.chat.chatWrapper
            .generateContextState({ chatHistory: [...(history ?? []), { type: "model", response: [] }] })
            .contextText.tokenize(model.tokenizer).length
        : promptTokensOf(prompt).length;
      if (promptCount >= context.contextSize) {
        throw new HttpError(
          400,
          `the request exceeds the available context size (${promptCount} ≥ ${context.contextSize} tokens)`,
          "exceed_context_size_error",
        );
      }
      const base = { id, object: chat ? "chat.completion.chunk" : "text_completion", model: modelId };
      if (stream) res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      const sendEvent = (data: unknown): void => {
        res.write(`data: ${JSON.stringify(data)}\n\n`);
      };
      let completionTokens = 0;
      let firstAt: number | undefined;
      const started = performance.now();
      const generation = {
        maxTokens: Math.max(1, Math.min(maxTokens, context.contextSize - promptCount)),
        signal: controller.signal,
        stopOnAbortSignal: true,
        ...(typeof body.temperature === "number" ? { temperature: body.temperature } : {}),
        ...(typeof body.top_p === "number" ? { topP: body.top_p } : {}),
        ...(typeof body.top_k === "number" ? { topK: body.top_k } : {}),
        ...(typeof body.seed === "number" ? { seed: body.seed } : {}),
        ...(stop.length > 0 ? { customStopTriggers: stop } : {}),
        ...(grammar ? { grammar } : {}),
        onToken: (tokens: Token[]) => {
          firstAt ??= performance.now();
          completionTokens += tokens.length;
        },
        onTextChunk: (text: string) => {
          if (!stream || text === "" || controller.signal.aborted) return;
          sendEvent({
            ...base,
            choices: [
              chat
                ? { index: 0, delta: { content: text }, finish_reason: null }
                : { index: 0, text, finish_reason: null },
            ],
          });
        },
      };
      let text: string;
      let stopReason: string;
      if (chat) {
        const r = await s.chat.generateResponse(history ?? [], generation);
        text = r.response;
        stopReason = r.metadata.stopReason;
      } else {
        const r = await s.completion.generateCompletionWithMeta(prompt, {
          ...generation,
          disableContextShift: true,
        });
        text = r.response;
        stopReason = r.metadata.stopReason;
      }
      if (controller.signal.aborted) return;
      const ended = performance.now();
      const finishReason = stopReason === "maxTokens" ? "length" : "stop";
      const usage = {
        prompt_tokens: promptCount,
        completion_tokens: completionTokens,
        total_tokens: promptCount + completionTokens,
      };
      const timings = {
        prompt_n: promptCount,
        prompt_ms: (firstAt ?? ended) - started,
        predicted_n: completionTokens,
        predicted_ms: ended - (firstAt ?? ended),
      };
      if (stream) {
        sendEvent({
          ...base,
          choices: [
            chat
              ? { index: 0, delta: {}, finish_reason: finishReason }
              : { index: 0, text: "", finish_reason: finishReason },
          ],
        });
        if (includeUsage) sendEvent({ ...base, choices: [], usage, timings });
        res.end("data: [DONE]\n\n");
      } else {
        sendJson(res, 200, {
          id,
          object,
          model: modelId,
          choices: [
            chat
              ? { index: 0, message: { role: "assistant", content: text }, finish_reason: finishReason }
              : { index: 0, text, finish_reason: finishReason },
          ],
          usage,
          timings,
        });
      }
    } finally {
      res.off("close", onClose);
      give(s);
    }
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    const route = async (): Promise<void> => {
      if (req.method === "GET" && path === "/v1/models") {
        requests.push({ method: "GET", path, body: undefined });
        sendJson(res, 200, {
          object: "list",
          data: [
            {
              id: modelId,
              object: "model",
              owned_by: "conclave-test",
              meta: {
                n_ctx_train: model.trainContextSize,
                n_params: model.fileInsights.totalParameters,
                size: model.size,
              },
            },
          ],
        });
      } else if (req.method === "POST" && path === "/v1/chat/completions") {
        await handleGeneration(req, res, true);
      } else if (req.method === "POST" && path === "/v1/completions") {
        await handleGeneration(req, res, false);
      } else {
        throw new HttpError(404, `no route ${req.method} ${path}`);
      }
    };
    route().catch((err: unknown) => {
      if (res.headersSent) {
        res.end();
        return;
      }
      const status = err instanceof HttpError ? err.status : 500;
      const type = err instanceof HttpError ? err.type : "server_error";
      sendJson(res, status, { error: { message: (err as Error).message, type } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    abortedGenerations: () => aborted,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await context.dispose();
      await model.dispose();
      if (options.llama === undefined) await llama.dispose();
    },
  };
}
