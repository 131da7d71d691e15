/**
 * The `llama` backend: one GGUF model in-process through node-llama-cpp, one context with `parallel`
 * sequences (one per slot), admission through a SlotQueue. Chat goes through LlamaChat (the GGUF's own
 * template, else node-llama-cpp's best-matching wrapper); raw prompts through LlamaCompletion (no wrapper).
 */
import {
  getLlama,
  type Llama,
  type LlamaContext,
  type LlamaGrammar,
  LlamaLogLevel,
  type LlamaModel,
} from "node-llama-cpp";
import { type HardwareSnapshot, memoryAvailability, probeHardware } from "../hardware-probe.js";
import {
  checkModelFitsMemory,
  describeGguf,
  inspectModelFile,
  type MemoryNeed,
  resolveModelSource,
} from "../model-inspect.js";
import { type SlotLease, SlotQueue } from "../slot-queue.js";
import { BackendError, ModelStartupError } from "./errors.js";
import { generateOnSlot } from "./llama-generate.js";
import type { LlamaSlot } from "./llama-prompt.js";
import { scoreOnSlot } from "./llama-score.js";
import { openRequestScope, type RequestScope } from "./request-scope.js";
import type {
  BackendMemory,
  BackendProgress,
  GenerateCallOptions,
  GenerateRequest,
  GenerateResult,
  JsonSchema,
  ModelBackend,
  ModelDescriptor,
  ScoreCallOptions,
  ScoreRequest,
  ScoreResult,
  SlotStats,
} from "./types.js";
import { assertValidGenerateRequest, assertValidScoreRequest } from "./validate-request.js";

export interface LlamaBackendOptions {
  /** A GGUF path, or an `hf:` URI / URL resolved (and downloaded once) by node-llama-cpp. */
  readonly modelPath: string;
  /** Layers to offload to the GPU; "auto" offloads what fits. @default "auto" */
  readonly gpuLayers?: "auto" | number;
  /** Context tokens per slot. @default min(trained context length, 4096) */
  readonly contextSize?: number;
  /** Parallel sequences, i.e. slots. @default 1 */
  readonly parallel?: number;
  /** Waiting places per slot before answering busy. @default 4 */
  readonly queuePerSlot?: number;
  /**
   * CPU threads per evaluation. node-llama-cpp's own default (max(cores, 4)) oversubscribes small machines,
   * where ggml's spin-waiting then runs ~1000× slower, so ours is the math-core count. @default cpuMathCores
   */
  readonly threads?: number;
  /** Tokens evaluated per batch. @default node-llama-cpp's (512, or less for small contexts) */
  readonly batchSize?: number;
  /** Where `hf:` downloads are cached. @default node-llama-cpp's ~/.node-llama-cpp/models */
  readonly cacheDir?: string;
  /** Download an uncached `hf:` model. @default true */
  readonly allowDownload?: boolean;
  readonly onProgress?: (progress: BackendProgress) => void;
}

export interface LlamaBackendDeps {
  /** @default the process-wide shared instance (getSharedLlama) */
  readonly llama?: Llama;
  /** Hardware probe for the startup memory check (the edge tests fake). @default probeHardware({ llama }) */
  readonly probe?: () => Promise<HardwareSnapshot>;
  /** Wall clock (Unix ms) for deadlines. @default Date.now */
  readonly now?: () => number;
}

let sharedLlama: Promise<Llama> | undefined;

/**
 * The one node-llama-cpp instance of this process (loading the native binding is slow and each instance
 * holds its own backend state). GPU offload is automatic: CUDA / Vulkan / Metal when present, else CPU.
 */
export function getSharedLlama(): Promise<Llama> {
  sharedLlama ??= getLlama({ gpu: "auto", logLevel: LlamaLogLevel.error }).catch((err: unknown) => {
    sharedLlama = undefined;
    throw err;
  });
  return sharedLlama;
}

/** Default context when none is asked for: the trained length, capped so a 128k model does not eat all RAM. */
const DEFAULT_MAX_CONTEXT = 4096;
const GRAMMAR_CACHE_SIZE = 32;

/** Loads the model and its context after the startup checks; every failure is a ModelStartupError. */
export async function createLlamaBackend(
  options: LlamaBackendOptions,
  deps: LlamaBackendDeps = {},
): Promise<LlamaBackend> {
  const parallel = options.parallel ?? 1;
  const problems: string[] = [];
  if (!Number.isSafeInteger(parallel) || parallel < 1) problems.push("parallel must be an integer ≥ 1");
  if (
    options.contextSize !== undefined &&
    !(Number.isSafeInteger(options.contextSize) && options.contextSize > 0)
  ) {
    problems.push("contextSize must be a positive integer");
  }
  const gpuLayers = options.gpuLayers ?? "auto";
  if (gpuLayers !== "auto" && !(Number.isSafeInteger(gpuLayers) && gpuLayers >= 0)) {
    problems.push('gpuLayers must be "auto" or an integer ≥ 0');
  }
  if (options.threads !== undefined && !(Number.isSafeInteger(options.threads) && options.threads >= 1)) {
    problems.push("threads must be an integer ≥ 1");
  }
  if (problems.length > 0) {
    throw new ModelStartupError("bad_config", `invalid llama backend options: ${problems.join("; ")}`, {
      details: problems,
    });
  }
  const path = await resolveModelSource(options.modelPath, {
    ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }),
    ...(options.allowDownload === undefined ? {} : { allowDownload: options.allowDownload }),
    onProgress: (downloadedBytes, totalBytes) =>
      options.onProgress?.({ phase: "download", downloadedBytes, totalBytes }),
  });
  const inspected = await inspectModelFile(path);
  const llama = deps.llama ?? (await getSharedLlama());
  const trained = Number(inspected.info.architectureMetadata.context_length ?? 0);
  const contextSize =
    options.contextSize ?? Math.min(trained > 0 ? trained : DEFAULT_MAX_CONTEXT, DEFAULT_MAX_CONTEXT);
  const snapshot = await (deps.probe ?? (() => probeHardware({ llama })))();
  const need = await checkModelFitsMemory({
    llama,
    model: inspected,
    gpuLayers,
    contextSize,
    sequences: parallel,
    available: memoryAvailability(snapshot),
  });

  let model: LlamaModel;
  try {
    model = await llama.loadModel({
      modelPath: path,
      gpuLayers,
      onLoadProgress: (fraction) => options.onProgress?.({ phase: "load", fraction }),
    });
  } catch (err) {
    throw new ModelStartupError(
      "model_load_failed",
      `llama.cpp could not load ${path}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  let context: LlamaContext;
  try {
    context = await model.createContext({
      contextSize,
      sequences: parallel,
      threads: options.threads ?? Math.max(1, llama.cpuMathCores),
      ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
      failedCreationRemedy: false,
    });
  } catch (err) {
    await model.dispose();
    throw new ModelStartupError(
      "model_load_failed",
      `could not create a context of ${contextSize} tokens × ${parallel} slot(s) for ${path}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const descriptor = describeGguf(inspected.info, {
    fileSizeBytes: inspected.fileSizeBytes,
    source: options.modelPath,
    contextLength: context.contextSize,
  });
  return new LlamaBackend({
    llama,
    model,
    context,
    descriptor,
    need,
    queuePerSlot: options.queuePerSlot ?? 4,
    now: deps.now ?? Date.now,
  });
}

interface LlamaBackendParts {
  readonly llama: Llama;
  readonly model: LlamaModel;
  readonly context: LlamaContext;
  readonly descriptor: ModelDescriptor;
  readonly need: MemoryNeed;
  readonly queuePerSlot: number;
  readonly now: () => number;
}

/** The grammar cache's key for a schema; remembered for frozen (shared, unchangeable) schema objects. */
const frozenSchemaKeys = new WeakMap<object, string>();

function schemaKey(schema: JsonSchema): string {
  if (!Object.isFrozen(schema)) return JSON.stringify(schema);
  let key = frozenSchemaKeys.get(schema);
  if (key === undefined) {
    key = JSON.stringify(schema);
    frozenSchemaKeys.set(schema, key);
  }
  return key;
}

export class LlamaBackend implements ModelBackend {
  readonly kind = "llama";
  readonly slots: number;
  readonly #parts: LlamaBackendParts;
  readonly #queue: SlotQueue;
  readonly #slots: LlamaSlot[];
  readonly #grammars = new Map<string, Promise<LlamaGrammar>>();
  readonly #closing = new AbortController();
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed: Promise<void> | undefined;

  constructor(parts: LlamaBackendParts) {
    this.#parts = parts;
    this.slots = parts.context.totalSequences;
    this.#queue = new SlotQueue({ slots: this.slots, queuePerSlot: parts.queuePerSlot });
    this.#slots = Array.from({ length: this.slots }, () => ({ sequence: parts.context.getSequence() }));
  }

  /** The loaded model, for in-process tools (self-bench, tests' reference computations). */
  get model(): LlamaModel {
    return this.#parts.model;
  }

  descriptor(): ModelDescriptor {
    return this.#parts.descriptor;
  }

  slotStats(): SlotStats {
    return this.#queue.stats();
  }

  onSlotChange(listener: (stats: SlotStats) => void): () => void {
    return this.#queue.onChange(listener);
  }

  memory(): BackendMemory {
    const { model, context, need } = this.#parts;
    const contextMemory = context.memoryUsage;
    return {
      modelBytes: model.size,
      contextBytes: contextMemory.ram + contextMemory.vram,
      vramBytes: need.vramBytes,
      gpuLayers: model.gpuLayers,
    };
  }

  generate(req: GenerateRequest, options: GenerateCallOptions = {}): Promise<GenerateResult> {
    return this.#admit(
      options.signal,
      req.deadline,
      () => assertValidGenerateRequest(req),
      (lease, scope) => this.#generate(lease, scope, req, options.onText),
    );
  }

  score(req: ScoreRequest, options: ScoreCallOptions = {}): Promise<ScoreResult> {
    return this.#admit(
      options.signal,
      req.deadline,
      () => assertValidScoreRequest(req),
      (lease, scope) => this.#score(lease, scope, req),
    );
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#queue.close(new BackendError("unavailable", "backend is closing"));
      this.#closing.abort(new BackendError("cancelled", "backend is closing"));
      await Promise.allSettled([...this.#inFlight]);
      await this.#parts.context.dispose();
      await this.#parts.model.dispose();
    })();
    return this.#closed;
  }

  /** Validation, dead-on-arrival checks, a slot, then `run`; the slot is released however `run` ends. */
  async #admit<T>(
    signal: AbortSignal | undefined,
    deadline: number | undefined,
    validate: () => void,
    run: (lease: SlotLease, scope: RequestScope) => Promise<T>,
  ): Promise<T> {
    validate();
    if (this.#closed) throw new BackendError("unavailable", "backend is closed");
    const scope = openRequestScope({
      ...(signal === undefined ? {} : { signal }),
      alsoCancelledBy: [this.#closing.signal],
      ...(deadline === undefined ? {} : { deadline }),
      now: this.#parts.now,
    });
    const task = (async () => {
      const lease = await this.#queue.acquire(scope.signal);
      try {
        return await run(lease, scope);
      } finally {
        lease.release();
      }
    })();
    this.#inFlight.add(task);
    try {
      return await task;
    } finally {
      this.#inFlight.delete(task);
      scope.dispose();
    }
  }

  async #generate(
    lease: SlotLease,
    scope: RequestScope,
    req: GenerateRequest,
    onText: ((piece: string) => void) | undefined,
  ): Promise<GenerateResult> {
    const grammar = req.jsonSchema === undefined ? undefined : await this.#grammarFor(req.jsonSchema);
    return generateOnSlot(req, {
      slot: this.#slots[lease.slot] as LlamaSlot,
      scope,
      contextSize: this.#parts.context.contextSize,
      grammar,
      queuedMs: lease.queuedMs,
      onText,
    });
  }

  #score(lease: SlotLease, scope: RequestScope, req: ScoreRequest): Promise<ScoreResult> {
    return scoreOnSlot(req, {
      slot: this.#slots[lease.slot] as LlamaSlot,
      scope,
      contextSize: this.#parts.context.contextSize,
      queuedMs: lease.queuedMs,
    });
  }

  #grammarFor(schema: JsonSchema): Promise<LlamaGrammar> {
    const key = schemaKey(schema);
    let grammar = this.#grammars.get(key);
    if (grammar === undefined) {
      grammar = this.#parts.llama
        // The schema was checked against our supported subset; node-llama-cpp's type is narrower than ours.
        .createGrammarForJsonSchema(schema as Parameters<Llama["createGrammarForJsonSchema"]>[0])
        .catch((err: unknown) => {
          this.#grammars.delete(key);
          throw new BackendError(
            "bad_request",
            `cannot build a grammar for the JSON schema: ${(err as Error).message}`,
            {
              cause: err,
            },
          );
        });
      this.#grammars.set(key, grammar);
      if (this.#grammars.size > GRAMMAR_CACHE_SIZE) {
        const oldest = this.#grammars.keys().next().value;
        if (oldest !== undefined) this.#grammars.delete(oldest);
      }
    }
    return grammar;
  }
}
