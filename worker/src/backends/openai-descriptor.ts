/**
 * A model descriptor for a model served by an OpenAI-compatible server. The standard /models entry has only
 * an id, so we read what servers add (llama-server's `meta`, vLLM's `max_model_len`) and otherwise infer
 * family, size and quantisation from the id ("qwen2.5-7b-instruct-q4_k_m"). Pure.
 */
import type { ModelDescriptor } from "./types.js";

/** One entry of GET /models, with the extras some servers send. */
export interface UpstreamModel {
  readonly id: string;
  readonly owned_by?: string;
  /** llama-server. */
  readonly meta?: { readonly n_ctx_train?: number; readonly n_params?: number; readonly size?: number };
  /** vLLM. */
  readonly max_model_len?: number;
}

export interface DescribeUpstreamOptions {
  readonly source: string;
  /** The operator's figure wins over anything inferred. */
  readonly contextLength?: number;
  readonly supportsScoring: boolean;
}

/** "meta-llama/Llama-3.1-8B-Instruct" → "llama"; "qwen2.5:7b" → "qwen". */
export function familyFromModelId(id: string): string {
  const base = (id.split("/").pop() ?? id).toLowerCase();
  const match = /[a-z]+/.exec(base);
  return match?.[0] ?? "unknown";
}

/** "…-8B-…" / "qwen2.5:0.5b" → parameters; 0 when the id does not say. */
export function parameterCountFromModelId(id: string): number {
  const match = /(?:^|[^a-z0-9.])(\d+(?:\.\d+)?)\s*([bm])(?![a-z])/i.exec(id);
  if (!match) return 0;
  const value = Number(match[1]);
  return Math.round(value * (match[2]?.toLowerCase() === "b" ? 1e9 : 1e6));
}

/** "…q4_k_m…" → "Q4_K_M"; "unknown" when the id does not say. */
export function quantizationFromModelId(id: string): string {
  const match = /(?:^|[^a-z0-9])((?:i?q\d(?:_[a-z0-9]+)*)|bf16|f16|f32|fp16|fp8|awq|gptq)(?![a-z0-9])/i.exec(
    id,
  );
  return match?.[1]?.toUpperCase() ?? "unknown";
}

export function describeUpstreamModel(
  model: UpstreamModel,
  options: DescribeUpstreamOptions,
): ModelDescriptor {
  const trained = model.meta?.n_ctx_train ?? model.max_model_len ?? 0;
  return {
    name: model.id,
    family: familyFromModelId(model.id),
    architecture: "unknown",
    parameterCount: model.meta?.n_params ?? parameterCountFromModelId(model.id),
    quantization: quantizationFromModelId(model.id),
    contextLength: options.contextLength ?? trained,
    trainContextLength: trained,
    fileSizeBytes: model.meta?.size ?? 0,
    source: options.source,
    backend: "openai",
    // The server applies its own template; we cannot tell whether the model has one.
    hasChatTemplate: true,
    supportsScoring: options.supportsScoring,
  };
}
