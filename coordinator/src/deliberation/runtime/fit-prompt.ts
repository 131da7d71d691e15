/**
 * Building a prompt that fits the seat it goes to: plan the completion against the prompt's shortest form,
 * then cut the peer texts in it to the largest common cap that fits (context-fit.ts has the rules). A call
 * whose shortest form does not fit throws PromptTooLongError and is never sent.
 */
import { CONTEXT_FIT, cutAll, fitItems } from "../context-fit.js";
import { PromptTooLongError } from "../errors.js";
import type { SeatInfo } from "../ports.js";
import { type PromptInput, promptText } from "../prompts/prompt-input.js";
import type { JobRuntime } from "./job-runtime.js";

export interface FitPromptCall<T> {
  seat: SeatInfo;
  /** What the prompt is, for the error when it cannot fit (e.g. "the batch evaluation prompt"). */
  what: string;
  /** Completion tokens wanted. */
  wanted: number;
  /** Fewest completion tokens still useful. @default completionFloor */
  floor?: number;
  /** The texts that may be cut (peer answers, references), in the order `build` takes them. */
  items: readonly T[];
  size: (item: T) => number;
  cut: (item: T, cap: number) => T;
  build: (items: readonly T[]) => PromptInput;
}

export interface FittedPrompt {
  prompt: PromptInput;
  /** Completion tokens to ask for with it. */
  maxTokens: number;
  /** Whether any item was cut. */
  truncated: boolean;
}

/**
 * The completion tokens for a call whose prompt is `shortest` at its shortest, so that it fits the seat's
 * context; throws PromptTooLongError (nothing is sent) when not even the floor fits.
 */
export function planMaxTokens(
  rt: JobRuntime,
  seat: SeatInfo,
  wanted: number,
  shortest: PromptInput,
  what: string,
  floor?: number,
): number {
  return rt.contexts.plan(seat, wanted, rt.countTokens(promptText(shortest)), what, floor);
}

/** Whether a prompt fits the seat's context next to `maxTokens` of completion. */
export function fitsContext(rt: JobRuntime, seat: SeatInfo, prompt: PromptInput, maxTokens: number): boolean {
  return rt.countTokens(promptText(prompt)) <= rt.contexts.budget(seat, maxTokens);
}

/** The completion a call may have with an empty prompt (the most it can get), or undefined when none. */
function largestCompletion<T>(rt: JobRuntime, c: FitPromptCall<T>): number | undefined {
  try {
    return rt.contexts.plan(c.seat, c.wanted, 0, c.what, c.floor);
  } catch {
    return undefined;
  }
}

export function fitPrompt<T>(rt: JobRuntime, c: FitPromptCall<T>): FittedPrompt {
  // The common case first: the whole prompt fits beside the largest completion the seat allows, so there
  // is nothing to cut and the plan below would come to the same (one prompt built instead of three).
  const full = c.build(c.items);
  const largest = largestCompletion(rt, c);
  if (largest !== undefined && fitsContext(rt, c.seat, full, largest)) {
    return { prompt: full, maxTokens: largest, truncated: false };
  }
  const shortest = c.build(cutAll(c.items, c.cut, CONTEXT_FIT.minTextChars));
  const maxTokens = planMaxTokens(rt, c.seat, c.wanted, shortest, c.what, c.floor);
  const items = fitItems({
    items: c.items,
    size: c.size,
    cut: c.cut,
    fits: (xs) => fitsContext(rt, c.seat, c.build(xs), maxTokens),
  });
  // The plan made room for the shortest form, so this only fires for a counter that is not monotone.
  if (items === undefined) {
    throw new PromptTooLongError(
      `${c.what} for ${c.seat.seat.seatId} does not fit its context and was not sent`,
    );
  }
  return {
    prompt: c.build(items),
    maxTokens,
    truncated: items.some((x, i) => x !== c.items[i]),
  };
}
