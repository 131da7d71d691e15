/**
 * Fitting prompts into a seat's context window. Pure.
 *
 * A worker rejects a prompt that does not fit its slot (`context_overflow`) and cuts a completion off at
 * the end of the context, so the engine sizes every call itself before sending it:
 *
 * 1. The completion may take at most `completionShare` of the context (`completionCap`). When even the
 *    shortest form of the prompt leaves less room than that, the completion shrinks, but never below a
 *    floor (`planMaxTokens`): a call that cannot keep its floor fails before it is sent.
 * 2. The prompt gets what is left: contextLength − max tokens − a chat-template reserve, divided by the
 *    seat's tokens-per-estimated-token ratio times (1 + `safetyMargin`) (`promptBudget`, in units of the
 *    injected token counter).
 * 3. Peer texts in the prompt are cut to a common character cap, the largest that fits (`fitItems`): short
 *    texts (an exact answer like `85`) stay whole and only the long ones are cut, which is the fair share
 *    of a fixed room. Cutting every text by the same *fraction* instead would turn `85` into `8` while an
 *    essay kept most of its length. Cuts end in `[truncated]` and happen before fencing, so fences stay
 *    intact.
 *
 * Why a ratio and a margin: the injected counter is an estimate (characters / 4). Measured through
 * node-llama-cpp on our own prompts, stories260K (512-token vocabulary, Llama2Chat template) spends 2.4–3.1
 * real tokens per estimated token, llama-2-tiny-random (32k vocabulary) 1.2–1.3; fence nonces and JSON cost
 * most. So no fixed margin fits both; the runtime learns each worker's ratio from the prompt token counts
 * the worker reports (and from its `context_overflow` details), and the 25% margin covers the spread
 * between prompts of the same worker.
 */
import type { PromptFormat } from "./ports.js";

export const CONTEXT_FIT = {
  /** Largest share of the context a completion may take. */
  completionShare: 0.5,
  /** Smallest share a completion is squeezed to (before `minCompletionTokens`) to make room for a prompt. */
  completionFloorShare: 0.125,
  /** Completion floor in tokens, however small the context share (unless the call wants fewer). */
  minCompletionTokens: 32,
  /** Extra room on top of the estimate times the observed ratio. */
  safetyMargin: 0.25,
  /** Tokens a chat template adds around the messages (Llama2Chat: about 40 on stories260K). */
  chatTemplateReserve: 48,
  /** BOS and friends around a raw prompt. */
  rawTemplateReserve: 4,
  /** Ratios outside [1, maxRatio] are clamped: below 1 would trust the estimate more than it deserves. */
  maxRatio: 8,
  /** Peer texts are never cut below this many characters; shorter texts stay whole. */
  minTextChars: 32,
} as const;

/** The marker every cut text ends with. */
export const TRUNCATED = "[truncated]";

/** What the engine knows about a seat's context. */
export interface SeatContext {
  /** Tokens per slot; 0 or undefined: unknown (nothing is fitted). */
  contextLength: number | undefined;
  format: PromptFormat;
  /** Real tokens per estimated token observed on this worker, ≥ 1. */
  ratio: number;
}

function known(ctx: SeatContext): ctx is SeatContext & { contextLength: number } {
  return ctx.contextLength !== undefined && ctx.contextLength > 0;
}

function reserve(format: PromptFormat): number {
  return format === "chat" ? CONTEXT_FIT.chatTemplateReserve : CONTEXT_FIT.rawTemplateReserve;
}

/** The wanted completion tokens, at most `completionShare` of the context (the wanted value when unknown). */
export function completionCap(ctx: SeatContext, wanted: number): number {
  if (!known(ctx)) return wanted;
  return Math.max(1, Math.min(wanted, Math.floor(ctx.contextLength * CONTEXT_FIT.completionShare)));
}

/** The default completion floor of a call wanting `wanted` tokens. */
export function completionFloor(ctx: SeatContext, wanted: number): number {
  if (!known(ctx)) return wanted;
  const share = Math.floor(ctx.contextLength * CONTEXT_FIT.completionFloorShare);
  return Math.min(wanted, Math.max(CONTEXT_FIT.minCompletionTokens, share));
}

/** Estimated tokens a prompt may take next to `maxTokens` of completion; +∞ when the context is unknown. */
export function promptBudget(ctx: SeatContext, maxTokens: number): number {
  if (!known(ctx)) return Number.POSITIVE_INFINITY;
  const room = ctx.contextLength - maxTokens - reserve(ctx.format);
  return Math.floor(room / (ctx.ratio * (1 + CONTEXT_FIT.safetyMargin)));
}

/** Real tokens a prompt of `estimated` tokens is taken to need (template reserve and margin included). */
export function neededTokens(ctx: SeatContext, estimated: number): number {
  return reserve(ctx.format) + Math.ceil(estimated * ctx.ratio * (1 + CONTEXT_FIT.safetyMargin));
}

/**
 * The completion tokens to ask for when the shortest form of the prompt is `minPromptTokens` (estimated):
 * the capped wanted value when that leaves room, else as many as the context has left, down to `floor`.
 * Undefined when not even `floor` fits beside the prompt. Idempotent: planning an already planned call
 * returns its own max tokens.
 */
export function planMaxTokens(
  ctx: SeatContext,
  wanted: number,
  minPromptTokens: number,
  floor = completionFloor(ctx, wanted),
): number | undefined {
  // The share cap never takes a call below its floor (a verdict needs all of its tokens).
  const hi = Math.max(completionCap(ctx, wanted), Math.min(floor, wanted));
  if (!known(ctx) || minPromptTokens <= promptBudget(ctx, hi)) return hi;
  const left = ctx.contextLength - neededTokens(ctx, minPromptTokens);
  let m = Math.min(hi, left);
  // `promptBudget` floors; step down until the budget really holds the prompt.
  while (m >= floor && m >= 1 && minPromptTokens > promptBudget(ctx, m)) m--;
  return m >= floor && m >= 1 ? m : undefined;
}

/** A ratio observed on one call: real prompt tokens (less the template reserve) per estimated token. */
export function observedRatio(format: PromptFormat, realTokens: number, estimatedTokens: number): number {
  if (!(realTokens > 0) || !(estimatedTokens > 0)) return 1;
  const r = (realTokens - reserve(format)) / estimatedTokens;
  return Math.min(CONTEXT_FIT.maxRatio, Math.max(1, r));
}

/** `text` cut to `limit` characters with the marker; unchanged when it fits; the marker alone at ≤ 0. */
export function truncateText(text: string, limit: number): string {
  if (text.length <= limit) return text;
  if (limit <= 0) return TRUNCATED;
  return `${text.slice(0, limit).trimEnd()} … ${TRUNCATED}`;
}

export interface FitItemsOptions<T> {
  items: readonly T[];
  /** Characters of an item (the largest cap worth trying). */
  size: (item: T) => number;
  /** The item cut to at most `cap` characters of its own text (plus the marker). */
  cut: (item: T, cap: number) => T;
  /** Whether a prompt built from these items fits. */
  fits: (items: readonly T[]) => boolean;
  /** Cap below which cutting makes the items useless. @default CONTEXT_FIT.minTextChars */
  minCap?: number;
}

/** Every item cut to a common cap. */
export function cutAll<T>(items: readonly T[], cut: (item: T, cap: number) => T, cap: number): T[] {
  return items.map((i) => cut(i, cap));
}

/**
 * The items with the largest common cap that fits (items shorter than the cap stay whole); the items as
 * they are when they fit; undefined when even `minCap` does not fit. Every returned set was checked.
 */
export function fitItems<T>(o: FitItemsOptions<T>): T[] | undefined {
  if (o.fits(o.items)) return [...o.items];
  const minCap = o.minCap ?? CONTEXT_FIT.minTextChars;
  const lowest = cutAll(o.items, o.cut, minCap);
  if (!o.fits(lowest)) return undefined;
  let best = lowest;
  let lo = minCap;
  let hi = Math.max(minCap, ...o.items.map(o.size)) - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const cut = cutAll(o.items, o.cut, mid);
    if (o.fits(cut)) {
      best = cut;
      lo = mid;
    } else hi = mid - 1;
  }
  return best;
}

/** A peer's answer with its rationale, as prompts show it. */
export interface CuttableAnswer {
  answer: string;
  rationale: string;
}

/** Characters of an answer and its rationale. */
export function answerSize(c: CuttableAnswer): number {
  return c.answer.length + c.rationale.length;
}

/**
 * An answer and its rationale within `cap` characters together: the rationale is cut first (it only
 * explains the answer), then the answer. What was cut says `[truncated]`.
 */
export function cutAnswer<C extends CuttableAnswer>(c: C, cap: number): C {
  if (answerSize(c) <= cap) return c;
  if (c.answer.length >= cap) {
    return { ...c, answer: truncateText(c.answer, cap), rationale: c.rationale === "" ? "" : TRUNCATED };
  }
  return { ...c, rationale: truncateText(c.rationale, cap - c.answer.length) };
}
