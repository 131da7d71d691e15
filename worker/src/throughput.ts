/**
 * Measured throughput, never declared: an EWMA of prefill and generation tokens/s over real requests, seeded
 * by the self-benchmark, plus latency percentiles over a bounded window of recent requests. Pure: samples
 * carry their own durations, so there is no clock here.
 */

/** One finished request, as the throughput tracker sees it. */
export interface ThroughputSample {
  /** Prompt tokens actually evaluated (cached prefix excluded). */
  readonly prefillTokens: number;
  readonly prefillMs: number;
  /** Tokens produced by the decode loop (the first token comes out of prefill, so usually completion − 1). */
  readonly decodeTokens: number;
  readonly decodeMs: number;
  /** End-to-end latency of the request (queue included). */
  readonly latencyMs: number;
}

export interface ThroughputSnapshot {
  /** Undefined until a seed or a sample with prefill work arrives. */
  readonly prefillTokensPerSecond: number | undefined;
  readonly generationTokensPerSecond: number | undefined;
  readonly latencyP50Ms: number | undefined;
  readonly latencyP95Ms: number | undefined;
  /** Real requests recorded (0 = self-benchmark only). */
  readonly samples: number;
}

export interface ThroughputTrackerOptions {
  /** EWMA weight of a new sample, in (0, 1]. @default 0.2 */
  readonly alpha?: number;
  /** How many recent latencies the percentiles cover. @default 256 */
  readonly window?: number;
  /**
   * Rates from samples shorter than this are skipped: a 0.1 ms prefill of 2 tokens says more about timer
   * resolution than about the model. @default 1
   */
  readonly minDurationMs?: number;
}

/** Exponentially weighted moving average; the first value seeds it. */
export function ewma(previous: number | undefined, value: number, alpha: number): number {
  return previous === undefined ? value : previous + alpha * (value - previous);
}

/** Tokens per second, or undefined when the sample carries no information. */
export function rate(tokens: number, ms: number, minDurationMs = 1): number | undefined {
  if (!(tokens > 0) || !(ms >= minDurationMs) || !Number.isFinite(tokens) || !Number.isFinite(ms)) {
    return undefined;
  }
  return (tokens * 1000) / ms;
}

/** Nearest-rank percentile (p in [0, 100]) of an ascending array; undefined when empty. */
export function percentile(sortedAscending: readonly number[], p: number): number | undefined {
  if (sortedAscending.length === 0) return undefined;
  const clamped = Math.min(100, Math.max(0, p));
  const rank = Math.max(1, Math.ceil((clamped / 100) * sortedAscending.length));
  return sortedAscending[rank - 1];
}

/**
 * Maps a finished generation and its end-to-end latency to a sample: the first token is produced by prefill,
 * the rest by decode.
 */
export function sampleFromGeneration(
  result: {
    readonly promptTokens: number;
    readonly cachedPromptTokens: number;
    readonly completionTokens: number;
    readonly prefillMs: number;
    readonly generateMs: number;
  },
  latencyMs: number,
): ThroughputSample {
  return {
    prefillTokens: Math.max(0, result.promptTokens - result.cachedPromptTokens),
    prefillMs: result.prefillMs,
    decodeTokens: Math.max(0, result.completionTokens - 1),
    decodeMs: result.generateMs,
    latencyMs,
  };
}

/** Index of the first element of `sorted` that is ≥ `value` (`strict`: > `value`). Binary search. */
export function insertionIndex(sorted: readonly number[], value: number, strict = false): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid] as number;
    if (v < value || (strict && v === value)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class ThroughputTracker {
  readonly #alpha: number;
  readonly #window: number;
  readonly #minDurationMs: number;
  /** The recent latencies in arrival order (a ring buffer) ... */
  readonly #latencies: number[] = [];
  /** ... and the same values kept in ascending order, so percentiles are a lookup, not a sort. */
  readonly #sorted: number[] = [];
  #next = 0;
  #prefill: number | undefined;
  #generation: number | undefined;
  #samples = 0;
  /** The last snapshot, valid until the next seed or record (telemetry asks far more often than it changes). */
  #snapshot: ThroughputSnapshot | undefined;

  constructor(options: ThroughputTrackerOptions = {}) {
    const alpha = options.alpha ?? 0.2;
    const window = options.window ?? 256;
    if (!(alpha > 0 && alpha <= 1)) throw new RangeError("alpha must be in (0, 1]");
    if (!Number.isSafeInteger(window) || window < 1) throw new RangeError("window must be an integer ≥ 1");
    this.#alpha = alpha;
    this.#window = window;
    this.#minDurationMs = options.minDurationMs ?? 1;
  }

  /** Starting values from the self-benchmark; real samples then move them. Does not count as a sample. */
  seed(seed: { prefillTokensPerSecond?: number; generationTokensPerSecond?: number }): void {
    if (seed.prefillTokensPerSecond !== undefined && seed.prefillTokensPerSecond > 0) {
      this.#prefill = seed.prefillTokensPerSecond;
    }
    if (seed.generationTokensPerSecond !== undefined && seed.generationTokensPerSecond > 0) {
      this.#generation = seed.generationTokensPerSecond;
    }
    this.#snapshot = undefined;
  }

  record(sample: ThroughputSample): void {
    const prefill = rate(sample.prefillTokens, sample.prefillMs, this.#minDurationMs);
    if (prefill !== undefined) this.#prefill = ewma(this.#prefill, prefill, this.#alpha);
    const generation = rate(sample.decodeTokens, sample.decodeMs, this.#minDurationMs);
    if (generation !== undefined) this.#generation = ewma(this.#generation, generation, this.#alpha);
    if (Number.isFinite(sample.latencyMs) && sample.latencyMs >= 0) {
      // A ring buffer: the window stays bounded however long the worker runs.
      if (this.#latencies.length < this.#window) this.#latencies.push(sample.latencyMs);
      else {
        const evicted = this.#latencies[this.#next] as number;
        this.#sorted.splice(insertionIndex(this.#sorted, evicted), 1);
        this.#latencies[this.#next] = sample.latencyMs;
      }
      this.#sorted.splice(insertionIndex(this.#sorted, sample.latencyMs, true), 0, sample.latencyMs);
      this.#next = (this.#next + 1) % this.#window;
    }
    this.#samples += 1;
    this.#snapshot = undefined;
  }

  /** O(1): the percentiles are read from the window kept sorted by `record`. */
  snapshot(): ThroughputSnapshot {
    if (this.#snapshot !== undefined) return this.#snapshot;
    this.#snapshot = {
      prefillTokensPerSecond: this.#prefill,
      generationTokensPerSecond: this.#generation,
      latencyP50Ms: percentile(this.#sorted, 50),
      latencyP95Ms: percentile(this.#sorted, 95),
      samples: this.#samples,
    };
    return this.#snapshot;
  }
}
