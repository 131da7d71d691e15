/**
 * Stop strings applied to the streamed text rather than to tokens. node-llama-cpp's token-level stop
 * triggers withhold the whole token in which a stop string starts, so text just before it is lost (a stop
 * "an" inside the token " ans" drops the space too). Here the text is exact: everything before the first
 * stop string, nothing after. Pieces that might still turn into a stop string are held back until the next
 * piece decides, so the stream never shows text that the final result does not contain, and the result is
 * the same however the text was split into pieces. Pure.
 */
export class StopStringFilter {
  readonly #stops: readonly string[];
  #held = "";
  #emitted = "";
  #stopped = false;

  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s.length > 0);
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Everything released so far (the final text once generation ended and `flush` was called). */
  get text(): string {
    return this.#emitted;
  }

  /** Adds generated text; returns the part that is now certain to be output (may be ""). */
  push(piece: string): string {
    if (this.#stopped) return "";
    // Most requests have no stop strings: every piece is final at once (this runs once per token).
    if (this.#stops.length === 0) return this.#release(piece);
    const buffer = this.#held + piece;
    const cut = this.#firstStop(buffer);
    // Where the earliest stop that the next pieces could still complete would start.
    const pending = buffer.length - this.#longestPendingPrefix(buffer);
    // A complete stop decides unless a longer one that starts earlier may still complete ("abc" before
    // "b" in "ab|c"): then wait, so the result never depends on how the text was split into pieces.
    if (cut >= 0 && cut <= pending) return this.#stopAt(buffer, cut);
    this.#held = buffer.slice(pending);
    return this.#release(buffer.slice(0, pending));
  }

  /** Generation ended: releases what was held back, cut at a stop string it holds. */
  flush(): string {
    if (this.#stopped) return "";
    const rest = this.#held;
    this.#held = "";
    const cut = this.#firstStop(rest);
    return cut >= 0 ? this.#stopAt(rest, cut) : this.#release(rest);
  }

  /** Where the earliest complete stop string in `text` starts (-1: none). */
  #firstStop(text: string): number {
    let cut = -1;
    for (const stop of this.#stops) {
      const at = text.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    return cut;
  }

  #stopAt(text: string, cut: number): string {
    this.#stopped = true;
    this.#held = "";
    return this.#release(text.slice(0, cut));
  }

  #release(text: string): string {
    this.#emitted += text;
    return text;
  }

  /** Length of the longest suffix of `buffer` that is a proper prefix of some stop string. */
  #longestPendingPrefix(buffer: string): number {
    let best = 0;
    for (const stop of this.#stops) {
      for (let n = Math.min(stop.length - 1, buffer.length); n > best; n--) {
        if (buffer.endsWith(stop.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
