/**
 * How the llama backend turns requests into tokens: raw prompts exactly as LlamaCompletion feeds them
 * (BOS, no SentencePiece dummy-prefix space), chat through the model's chat wrapper, and candidate
 * continuations for scoring. One slot = one context sequence plus the node-llama-cpp helpers bound to it.
 */
import {
  type ChatHistoryItem,
  LlamaChat,
  type LlamaCompletion,
  type LlamaContextSequence,
  type LlamaModel,
  LlamaVocabularyType,
  type Token,
} from "node-llama-cpp";
import { BackendError } from "./errors.js";
import type { ChatMessage, PromptInput } from "./types.js";

/** A slot's sequence and the helpers created on it (lazily: most workers only ever use one of the two). */
export interface LlamaSlot {
  readonly sequence: LlamaContextSequence;
  completion?: LlamaCompletion;
  chat?: LlamaChat;
}

/** Chat messages in node-llama-cpp's history shape. Pure. */
export function toChatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  return messages.map((m): ChatHistoryItem => {
    if (m.role === "system") return { type: "system", text: m.content };
    if (m.role === "user") return { type: "user", text: m.content };
    return { type: "model", response: [m.content] };
  });
}

/** The token LlamaCompletion puts before a raw prompt (mirrors node-llama-cpp's own rule). */
export function beginningToken(model: LlamaModel): Token | null {
  const type = model.vocabularyType;
  if (type === LlamaVocabularyType.rwkv || type === LlamaVocabularyType.ugm) return null;
  if (type === LlamaVocabularyType.wpm) return model.tokens.bos;
  return model.tokens.shouldPrependBosToken ? model.tokens.bos : null;
}

/** The prompt as evaluated (`full`, BOS included) and as LlamaCompletion takes it (`input`, BOS excluded). */
export function rawPromptTokens(model: LlamaModel, prompt: string): { full: Token[]; input: Token[] } {
  const bos = beginningToken(model);
  // With BOS in front, node-llama-cpp tokenizes without the dummy-prefix space; so do we, to match.
  const input = model.tokenize(prompt, false, bos === null ? undefined : "trimLeadingSpace");
  return { full: bos === null ? input : [bos, ...input], input };
}

/** The chat rendered by the model's template up to where the assistant's answer starts, as tokens. */
export function chatPromptTokens(slot: LlamaSlot, history: readonly ChatHistoryItem[]): Token[] {
  slot.chat ??= new LlamaChat({ contextSequence: slot.sequence });
  const withAnswer: ChatHistoryItem[] =
    history.at(-1)?.type === "model" ? [...history] : [...history, { type: "model", response: [] }];
  const state = slot.chat.chatWrapper.generateContextState({ chatHistory: withAnswer });
  return state.contextText.tokenize(slot.sequence.model.tokenizer);
}

/** Prompt tokens for either input kind. */
export function promptTokensOf(slot: LlamaSlot, input: PromptInput): Token[] {
  return input.messages === undefined
    ? rawPromptTokens(slot.sequence.model, input.prompt).full
    : chatPromptTokens(slot, toChatHistory(input.messages));
}

/** A continuation has no dummy-prefix space of its own: "85" after "Q 37+48=" is `8`, `5`. */
export function continuationTokens(model: LlamaModel, text: string): Token[] {
  return model.tokenize(text, false, "trimLeadingSpace");
}

/** Throws `context_overflow` unless `promptTokens + extra` tokens fit in a slot's context. */
export function assertFitsContext(
  promptTokens: number,
  extra: number,
  contextSize: number,
  what: string,
): void {
  if (promptTokens + extra > contextSize) {
    throw new BackendError(
      "context_overflow",
      `${what} needs ${promptTokens + extra} tokens but the context holds ${contextSize}`,
      { details: [`promptTokens=${promptTokens}`, `contextSize=${contextSize}`] },
    );
  }
}
