/**
 * One generation on a llama slot: raw prompts through LlamaCompletion (no chat wrapper), chat through
 * LlamaChat (the model's template). Streams text through a StopStringFilter, stops at once when the request
 * scope aborts, and measures prefill (start → first token) and generation (first token → end).
 */
import { LlamaChat, LlamaCompletion, type LlamaGrammar, type Token } from "node-llama-cpp";
import { toBackendError } from "./errors.js";
import { evaluateJsonOutput } from "./json-output.js";
import {
  assertFitsContext,
  chatPromptTokens,
  type LlamaSlot,
  rawPromptTokens,
  toChatHistory,
} from "./llama-prompt.js";
import type { RequestScope } from "./request-scope.js";
import { StopStringFilter } from "./stop-strings.js";
import type { FinishReason, GenerateRequest, GenerateResult } from "./types.js";

export interface SlotGeneration {
  readonly slot: LlamaSlot;
  readonly scope: RequestScope;
  readonly contextSize: number;
  readonly grammar: LlamaGrammar | undefined;
  readonly queuedMs: number;
  readonly onText: ((piece: string) => void) | undefined;
}

/** node-llama-cpp's stop reason → ours. */
function finishReasonOf(stopReason: string, scope: RequestScope): FinishReason {
  if (stopReason === "abort") return scope.stoppedBy() ?? "cancelled";
  if (stopReason === "maxTokens") return "length";
  return "stop";
}

export async function generateOnSlot(req: GenerateRequest, g: SlotGeneration): Promise<GenerateResult> {
  const { slot, scope } = g;
  const model = slot.sequence.model;
  const history = req.messages === undefined ? undefined : toChatHistory(req.messages);
  const raw = req.prompt === undefined ? undefined : rawPromptTokens(model, req.prompt);
  const promptTokens = raw?.full ?? chatPromptTokens(slot, history ?? []);
  // Checked before evaluating anything: node-llama-cpp would otherwise silently drop the prompt's start.
  assertFitsContext(promptTokens.length, 1, g.contextSize, "prompt");
  const cachedPromptTokens = Math.min(
    slot.sequence.compareContextTokens(promptTokens).firstDifferentIndex,
    promptTokens.length - 1,
  );
  const s = req.sampling ?? {};
  // Stop strings are matched on the streamed text (see StopStringFilter), not by node-llama-cpp.
  const stops = new StopStringFilter(s.stop ?? []);
  // What node-llama-cpp watches: the request scope's signal, which a stop string found in the text also
  // aborts (scope.halt, which does not count as cancelled).
  const signal = scope.signal;
  let completionTokens = 0;
  let firstTokenAt: number | undefined;
  const options = {
    signal,
    stopOnAbortSignal: true,
    // Never past the end of the context: no context shift may rewrite the prompt mid-answer.
    maxTokens: Math.min(req.maxTokens, g.contextSize - promptTokens.length),
    ...(s.temperature === undefined ? {} : { temperature: s.temperature }),
    ...(s.topP === undefined ? {} : { topP: s.topP }),
    ...(s.topK === undefined ? {} : { topK: s.topK }),
    ...(s.seed === undefined ? {} : { seed: s.seed }),
    ...(s.repeatPenalty === undefined
      ? {}
      : { repeatPenalty: s.repeatPenalty === 1 ? (false as const) : { penalty: s.repeatPenalty } }),
    ...(g.grammar === undefined ? {} : { grammar: g.grammar }),
    trimWhitespaceSuffix: false,
    onToken: (tokens: Token[]) => {
      firstTokenAt ??= performance.now();
      completionTokens += tokens.length;
    },
    onTextChunk: (text: string) => {
      const released = stops.push(text);
      if (released !== "") g.onText?.(released);
      if (stops.stopped) scope.halt();
    },
  };
  const started = performance.now();
  let stopReason: string;
  try {
    if (raw !== undefined) {
      slot.completion ??= new LlamaCompletion({ contextSequence: slot.sequence });
      // contextShiftSize 0: the prompt is known to fit, so node-llama-cpp must not trim its start.
      const r = await slot.completion.generateCompletionWithMeta(raw.input, {
        ...options,
        disableContextShift: true,
        contextShiftSize: 0,
      });
      stopReason = r.metadata.stopReason;
    } else {
      slot.chat ??= new LlamaChat({ contextSequence: slot.sequence });
      const r = await slot.chat.generateResponse(history ?? [], options);
      stopReason = r.metadata.stopReason;
    }
  } catch (err) {
    // node-llama-cpp throws instead of returning when the abort lands before the first token.
    if (!signal.aborted) throw toBackendError(err);
    stopReason = "abort";
  }
  const tail = stops.flush();
  if (tail !== "") g.onText?.(tail);
  const text = stops.text;
  const finishReason: FinishReason = stops.stopped ? "stop" : finishReasonOf(stopReason, scope);
  const ended = performance.now();
  const first = firstTokenAt ?? ended;
  return {
    text,
    finishReason,
    promptTokens: promptTokens.length,
    cachedPromptTokens: Math.max(0, cachedPromptTokens),
    completionTokens,
    queueMs: g.queuedMs,
    prefillMs: first - started,
    generateMs: ended - first,
    ...(req.jsonSchema === undefined
      ? {}
      : { json: evaluateJsonOutput(text, req.jsonSchema, finishReason === "length") }),
  };
}
