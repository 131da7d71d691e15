import type { TokenCounter } from "./ports.js";

/**
 * The default token estimate: one token per four characters, rounded up. Good enough for budgets across
 * tokenizers (English BPE averages about 4 characters a token); inject a real tokenizer for exact counts.
 */
export const estimateTokens: TokenCounter = (text) => Math.ceil(text.length / 4);
