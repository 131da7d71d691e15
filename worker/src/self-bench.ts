/**
 * A short self-benchmark at worker start, so telemetry carries measured prefill and generation tokens/s
 * before the first real request. It goes through the public ModelBackend interface (same path as real
 * requests, works for both backends) with raw prompts, so no chat template inflates the count.
 */
import { BackendError } from "./backends/errors.js";
import type { BackendProgress, GenerateResult, ModelBackend } from "./backends/types.js";
import { rate, sampleFromGeneration, type ThroughputTracker } from "./throughput.js";

export interface SelfBenchOptions {
  /** Measured runs, after one unmeasured warm-up run (the first evaluation pays one-off setup). @default 2 */
  readonly runs?: number;
  /** Generated tokens per run. @default min(64, contextLength / 4) */
  readonly maxTokens?: number;
  /** Give up after this long; a worker must not hang at start. @default 30000 */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: BackendProgress) => void;
  /** Wall clock (Unix ms) for the deadline. @default Date.now */
  readonly now?: () => number;
}

export interface SelfBenchResult {
  /** Undefined when no run had measurable prefill work. */
  readonly prefillTokensPerSecond: number | undefined;
  /** Undefined when the model stopped before decoding anything measurable. */
  readonly generationTokensPerSecond: number | undefined;
  readonly runs: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
}

const FILLER =
  "The quick brown fox jumps over the lazy dog while the little girl reads a story about a red ball, " +
  "a big tree, a happy cat and a small boat on the blue lake. ";

/**
 * The benchmark prompt of run `run`: a distinct opening (so no run reuses another's KV cache) and filler
 * text of at most `maxChars` characters — at worst one token per character, so it fits in the context.
 */
export function benchPrompt(run: number, maxChars: number): string {
  const head = `Run ${run}. `;
  const body = FILLER.repeat(Math.ceil(maxChars / FILLER.length) + 1);
  return (head + body).slice(0, Math.max(head.length + 1, maxChars)).trimEnd();
}

/** Runs the benchmark; rate figures aggregate tokens over time across the measured runs. */
export async function runSelfBench(
  backend: Pick<ModelBackend, "generate" | "descriptor">,
  options: SelfBenchOptions = {},
): Promise<SelfBenchResult> {
  const runs = options.runs ?? 2;
  const contextLength = backend.descriptor().contextLength || 512;
  const maxTokens = options.maxTokens ?? Math.max(1, Math.min(64, Math.floor(contextLength / 4)));
  const now = options.now ?? Date.now;
  const deadline = now() + (options.timeoutMs ?? 30_000);
  let maxChars = Math.max(16, Math.min(400, contextLength - maxTokens - 8));
  const measured: GenerateResult[] = [];

  for (let run = 0; run <= runs; run++) {
    options.onProgress?.({ phase: "self-bench", run, runs });
    let result: GenerateResult | undefined;
    while (result === undefined) {
      try {
        result = await backend.generate(
          { prompt: benchPrompt(run, maxChars), maxTokens, sampling: { temperature: 0 }, deadline },
          options.signal === undefined ? {} : { signal: options.signal },
        );
      } catch (err) {
        // A tokenizer that spends several tokens per character can still overflow: shrink and retry.
        if (err instanceof BackendError && err.code === "context_overflow" && maxChars > 16) {
          maxChars = Math.max(16, Math.floor(maxChars / 2));
          continue;
        }
        throw err;
      }
    }
    if (result.finishReason === "deadline" || result.finishReason === "cancelled") break;
    if (run > 0) measured.push(result);
  }

  const totals = { prefillTokens: 0, prefillMs: 0, decodeTokens: 0, decodeMs: 0 };
  for (const r of measured) {
    const sample = sampleFromGeneration(r, 0);
    totals.prefillTokens += sample.prefillTokens;
    totals.prefillMs += sample.prefillMs;
    totals.decodeTokens += sample.decodeTokens;
    totals.decodeMs += sample.decodeMs;
  }
  // Tiny models finish a run in well under a millisecond of prefill; aggregate before dividing.
  return {
    prefillTokensPerSecond: rate(totals.prefillTokens, totals.prefillMs, 0.01),
    generationTokensPerSecond: rate(totals.decodeTokens, totals.decodeMs, 0.01),
    runs: measured.length,
    promptTokens: measured.reduce((n, r) => n + r.promptTokens, 0),
    completionTokens: measured.reduce((n, r) => n + r.completionTokens, 0),
  };
}

/** Seeds a tracker with the benchmark's figures. */
export function seedThroughput(tracker: ThroughputTracker, result: SelfBenchResult): void {
  tracker.seed({
    ...(result.prefillTokensPerSecond === undefined
      ? {}
      : { prefillTokensPerSecond: result.prefillTokensPerSecond }),
    ...(result.generationTokensPerSecond === undefined
      ? {}
      : { generationTokensPerSecond: result.generationTokensPerSecond }),
  });
}
