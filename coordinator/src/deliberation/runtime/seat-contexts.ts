/**
 * The job's knowledge of its seats' context windows: each worker's size (from its profile) and its real
 * tokens per estimated token, learned from the prompt token counts the worker reports. Decisions are in
 * context-fit.ts; this only keeps the observations and phrases the refusal.
 */
import { isConclaveError } from "../../../../proto/src/errors.js";
import {
  neededTokens,
  observedRatio,
  planMaxTokens,
  promptBudget,
  type SeatContext,
} from "../context-fit.js";
import { PromptTooLongError } from "../errors.js";
import type { SeatInfo } from "../ports.js";

function ratioKey(seat: SeatInfo): string {
  return `${seat.seat.workerId}/${seat.seat.modelName}`;
}

export class SeatContexts {
  /** Largest ratio seen per worker and model: the conservative choice for the next prompt. */
  private readonly ratios = new Map<string, number>();

  of(seat: SeatInfo): SeatContext {
    return {
      contextLength: seat.profile.contextLength,
      format: seat.profile.format,
      ratio: this.ratios.get(ratioKey(seat)) ?? 1,
    };
  }

  /** Learns from a prompt the worker counted: `realTokens` for a prompt estimated at `estimate`. */
  observe(seat: SeatInfo, realTokens: number, estimate: number): void {
    const r = observedRatio(seat.profile.format, realTokens, estimate);
    if (r > (this.ratios.get(ratioKey(seat)) ?? 1)) this.ratios.set(ratioKey(seat), r);
  }

  /** A worker's `context_overflow` carries the prompt's real size as a detail (`promptTokens=N`). */
  observeFailure(seat: SeatInfo, err: unknown, estimate: number): void {
    if (!isConclaveError(err)) return;
    for (const d of err.details) {
      const m = /^promptTokens=(\d+)$/.exec(d);
      if (m?.[1] !== undefined) this.observe(seat, Number(m[1]), estimate);
    }
  }

  /** Estimated tokens a prompt may take beside `maxTokens` of completion (+∞ when the context is unknown). */
  budget(seat: SeatInfo, maxTokens: number): number {
    return promptBudget(this.of(seat), maxTokens);
  }

  /**
   * The completion tokens for a call whose shortest prompt is `shortestTokens` (estimated); throws
   * PromptTooLongError when not even the floor fits, so the call is never sent.
   */
  plan(seat: SeatInfo, wanted: number, shortestTokens: number, what: string, floor?: number): number {
    const ctx = this.of(seat);
    const m = planMaxTokens(ctx, wanted, shortestTokens, floor);
    if (m !== undefined) return m;
    throw new PromptTooLongError(
      `${what} for ${seat.seat.seatId} does not fit its context and was not sent: at its shortest it ` +
        `needs ~${neededTokens(ctx, shortestTokens)} tokens (${shortestTokens} estimated × ` +
        `${ctx.ratio.toFixed(2)} tokens per estimate, template and margin included) plus room for the answer, ` +
        `but the context holds ${ctx.contextLength}`,
    );
  }

  /** Throws PromptTooLongError unless `tokens` estimated tokens fit beside `maxTokens` of completion. */
  check(seat: SeatInfo, tokens: number, maxTokens: number, what: string): void {
    const ctx = this.of(seat);
    if (tokens <= promptBudget(ctx, maxTokens)) return;
    throw new PromptTooLongError(
      `${what} for ${seat.seat.seatId} does not fit its context and was not sent: it needs ` +
        `~${neededTokens(ctx, tokens) + maxTokens} tokens, but the context holds ${ctx.contextLength}`,
    );
  }
}
