/**
 * The profiles Conclave ships with. Priors for real model families are offsets on the parameter curve,
 * set by judgement from public model cards and leaderboards (they are starting points, not measurements:
 * the online update in quality-stats.ts corrects them from the pool's own deliberations). Priors for the
 * test models come from measurements (/work/shared/models/TASK-MODELS.md). Order matters: the first
 * matching rule wins, so specific rules (distills, coder/math variants, MoE) come before family rules.
 * Format: deploy/PROFILES.md.
 */
import type { ProfileFile } from "./types.js";

const ARITH_TEMPLATES = {
  propose: "Q {task}=",
  verify: "V {task}={candidate} ?",
  score: "Q {task}=",
  verdicts: { Y: 100, N: -100 },
  maxTokens: { propose: 6, verify: 2 },
} as const;

const TINY = { general: 0.01, math: 0.01, code: 0.01, review: 0.01 } as const;

export const DEFAULT_PROFILES: ProfileFile = {
  version: 1,
  rules: [
    {
      id: "arith-big",
      description:
        "Reference arithmetic model (arith-big-d160l4): 92.8% PROPOSE accuracy on the held-out set.",
      match: { name: "arith-big*" },
      tags: ["math"],
      abilities: ["propose", "evaluate"],
      quality: { general: 0.01, math: 0.93, code: 0.01, review: 0.01 },
      evaluationMode: "likelihood",
      templates: ARITH_TEMPLATES,
    },
    {
      id: "arith",
      description:
        "Tiny arithmetic ensemble members (arith-a..d): 59-76% PROPOSE accuracy; no free-form text.",
      match: { name: "arith-*" },
      tags: ["math"],
      abilities: ["propose", "evaluate"],
      quality: { general: 0.01, math: 0.7, code: 0.01, review: 0.01 },
      evaluationMode: "likelihood",
      templates: ARITH_TEMPLATES,
    },
    {
      id: "stories260k",
      description: "TinyStories 260K-parameter model: English-ish children's stories, nothing else.",
      match: { name: "*stories*" },
      tags: ["general"],
      abilities: ["propose", "evaluate", "synthesize"],
      quality: { general: 0.03, math: 0.01, code: 0.01, review: 0.01 },
      evaluationMode: "per-candidate",
    },
    {
      id: "tiny-random",
      description: "Random-weight test models: gibberish by construction.",
      match: { nameRegex: "tiny[-_ ]?random" },
      tags: ["general"],
      quality: TINY,
      evaluationMode: "per-candidate",
    },
    {
      id: "deepseek-r1-distill",
      description: "DeepSeek-R1 distills (Qwen/Llama bases): strong step-by-step math, verbose, weaker chat.",
      match: { nameRegex: "(deepseek[-_ ]?r1.*distill|r1[-_ ]distill)" },
      tags: ["general", "math", "code", "reasoning"],
      qualityOffset: { general: -0.05, math: 0.12, code: 0.04, review: 0.02 },
    },
    {
      id: "qwen-coder",
      match: { nameRegex: "qwen.*coder" },
      tags: ["general", "code", "review", "chat"],
      qualityOffset: { general: -0.03, math: 0, code: 0.12, review: 0.04 },
    },
    {
      id: "qwen-math",
      match: { nameRegex: "qwen.*math" },
      tags: ["math"],
      qualityOffset: { general: -0.1, math: 0.15, code: -0.1, review: -0.05 },
    },
    {
      id: "qwen3-moe",
      description:
        "Qwen3 mixture-of-experts (e.g. 30B-A3B): the curve sees total parameters, so offset down.",
      match: { nameRegex: "qwen[-_ ]?3(?!\\d).*a\\d+(\\.\\d+)?b" },
      tags: ["general", "math", "code", "review", "chat", "reasoning"],
      qualityOffset: { general: -0.02, math: 0.04, code: 0.02, review: 0 },
    },
    {
      id: "qwen3",
      match: { nameRegex: "qwen[-_ ]?3(?!\\d)" },
      tags: ["general", "math", "code", "review", "chat", "reasoning"],
      qualityOffset: { general: 0.06, math: 0.1, code: 0.08, review: 0.05 },
    },
    {
      id: "qwen2.5",
      description: "Qwen2 and Qwen2.5 instruct models.",
      match: { nameRegex: "qwen[-_ ]?2(\\.5)?(?!\\d)" },
      tags: ["general", "math", "code", "review", "chat"],
      qualityOffset: { general: 0.02, math: 0.04, code: 0.04, review: 0.02 },
    },
    {
      id: "llama3",
      description: "Llama 3, 3.1, 3.2, 3.3.",
      match: { nameRegex: "llama[-_ ]?3(\\.\\d)?(?!\\d)" },
      tags: ["general", "code", "review", "chat"],
      qualityOffset: { general: 0, math: -0.04, code: -0.03, review: 0 },
    },
    {
      id: "gemma3",
      match: { nameRegex: "gemma[-_ ]?3(?!\\d)" },
      tags: ["general", "math", "review", "chat"],
      qualityOffset: { general: 0.04, math: 0, code: -0.02, review: 0.02 },
    },
    {
      id: "gemma2",
      match: { nameRegex: "gemma[-_ ]?2(?!\\d)" },
      tags: ["general", "review", "chat"],
      qualityOffset: { general: 0.02, math: -0.04, code: -0.04, review: 0 },
    },
    {
      id: "mixtral",
      description:
        "Mixtral 8x7B / 8x22B: mixture of experts, the curve sees total parameters, so offset down.",
      match: { nameRegex: "mixtral" },
      tags: ["general", "code", "chat"],
      qualityOffset: { general: -0.1, math: -0.12, code: -0.1, review: -0.1 },
    },
    {
      id: "mistral",
      description: "Mistral / Ministral / Mistral Small / Nemo.",
      match: { nameRegex: "mistral|ministral" },
      tags: ["general", "chat"],
      qualityOffset: { general: -0.03, math: -0.08, code: -0.05, review: -0.03 },
    },
    {
      id: "phi4",
      match: { nameRegex: "phi[-_ ]?4(?!\\d)" },
      tags: ["general", "math", "code", "reasoning"],
      qualityOffset: { general: 0, math: 0.08, code: 0.05, review: 0.02 },
    },
    {
      id: "phi3",
      match: { nameRegex: "phi[-_ ]?3(?!\\d)" },
      tags: ["general", "math", "chat"],
      qualityOffset: { general: -0.03, math: 0.03, code: 0, review: -0.02 },
    },
    {
      id: "gpt-oss",
      description: "gpt-oss 20b / 120b (mixture of experts, reasoning).",
      match: { nameRegex: "gpt[-_ ]?oss" },
      tags: ["general", "math", "code", "review", "chat", "reasoning"],
      qualityOffset: { general: 0.02, math: 0.1, code: 0.06, review: 0.04 },
    },
    {
      id: "tiny-by-params",
      description: "Anything under 50M parameters is a toy (e.g. 'LLaMA v2' tiny-random by its GGUF name).",
      match: { maxParams: 50_000_000 },
      tags: ["general"],
      quality: TINY,
      evaluationMode: "per-candidate",
    },
  ],
  fallback: {
    tags: ["general", "chat"],
    abilities: ["propose", "evaluate", "synthesize"],
    curve: { referenceParams: 7e9, atReference: 0.55, perDecade: 0.2, min: 0.02, max: 0.85, unknown: 0.3 },
    evaluationMode: "batch",
    smallModelMaxParams: 4e9,
    smallModelEvaluationMode: "per-candidate",
  },
};
