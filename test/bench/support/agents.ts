/** The eight scripted agents the deliberation benchmarks seat: realistic identities, chosen latencies. */
import type { AnswerShape } from "./scripted-answers.js";
import type { PoolWorkerSpec } from "./scripted-pool-protocol.js";

/** Distinct families over 4B parameters, so the profiles pick batch evaluation and no family repeats. */
const IDENTITIES = [
  { modelName: "qwen2.5-7b-instruct", family: "qwen2", parameterCount: 7.6e9 },
  { modelName: "llama-3.1-8b-instruct", family: "llama", parameterCount: 8.0e9 },
  { modelName: "gemma-2-9b-it", family: "gemma2", parameterCount: 9.2e9 },
  { modelName: "mistral-7b-instruct-v0.3", family: "mistral", parameterCount: 7.2e9 },
  { modelName: "phi-4", family: "phi3", parameterCount: 14.7e9 },
  { modelName: "qwen3-8b", family: "qwen3", parameterCount: 8.2e9 },
  { modelName: "gemma-3-12b-it", family: "gemma3", parameterCount: 12.2e9 },
  { modelName: "gpt-oss-20b", family: "gpt-oss", parameterCount: 20.9e9 },
] as const;

export const BENCH_TASK =
  "Explain why the sky is blue during the day and red at sunset, for a curious twelve-year-old.";

/** `n` agents (n ≤ 8); `latency(i)` gives agent i its simulated prefill and per-token delay. */
export function benchAgents(
  n: number,
  latency: (i: number) => { prefillDelayMs: number; tokenDelayMs: number } = () => ({
    prefillDelayMs: 0,
    tokenDelayMs: 0,
  }),
): PoolWorkerSpec[] {
  return IDENTITIES.slice(0, n).map((id, i) => ({ id: `agent-${i + 1}`, ...id, ...latency(i) }));
}

/** Answers of a typical size for a short task. */
export const TYPICAL_SHAPE: AnswerShape = {
  answerWords: 40,
  rationaleWords: 15,
  critiqueWords: 12,
  claimWords: 6,
};
