import { describe, expect, it } from "vitest";
import { createChunkBatcher, DEFAULT_CHUNK_MAX_CHARS } from "../../../worker/src/service/chunk-batcher.js";

/** A batcher on a hand-driven timer: `fire()` runs the pending flush as if its delay had passed. */
function harness(options: { maxChars?: number; firstDelayMs?: number; maxDelayMs?: number } = {}) {
  const sent: { text: string; pieces: number }[] = [];
  let pending: (() => void) | undefined;
  const delays: number[] = [];
  const batcher = createChunkBatcher({
    ...options,
    send: (text, pieces) => sent.push({ text, pieces }),
    setTimer: (fn, ms) => {
      pending = fn;
      delays.push(ms);
      return fn;
    },
    clearTimer: (handle) => {
      if (pending === handle) pending = undefined;
    },
  });
  return {
    batcher,
    sent,
    delays,
    fire: () => {
      const fn = pending;
      pending = undefined;
      fn?.();
    },
    armed: () => pending !== undefined,
  };
}

describe("chunk batcher", () => {
  it("sends a whole answer produced within one turn (an instant backend) as a single chunk", () => {
    const h = harness();
    const pieces = Array.from({ length: 600 }, (_, i) => ` word${i}`);
    for (const p of pieces) h.batcher.push(p);
    h.batcher.close();
    expect(h.sent).toEqual([{ text: pieces.join(""), pieces: 600 }]);
    expect(h.armed()).toBe(false);
  });

  it("sends the first chunk after the short delay and later ones at the steady cadence", () => {
    const h = harness({ firstDelayMs: 25, maxDelayMs: 100 });
    h.batcher.push("a");
    h.batcher.push("b");
    expect(h.sent).toEqual([]);
    h.fire();
    expect(h.sent).toEqual([{ text: "ab", pieces: 2 }]);
    h.batcher.push("c");
    h.batcher.push("d");
    h.fire();
    h.batcher.push("e");
    h.batcher.close();
    expect(h.sent).toEqual([
      { text: "ab", pieces: 2 },
      { text: "cd", pieces: 2 },
      { text: "e", pieces: 1 },
    ]);
    // One timer per chunk, armed by the chunk's first piece: 25 ms for the first, 100 ms after that.
    expect(h.delays).toEqual([25, 100, 100]);
  });

  it("defaults to a quick first chunk and ten chunks a second after it", () => {
    const h = harness();
    h.batcher.push("a");
    h.fire();
    h.batcher.push("b");
    expect(h.delays).toEqual([25, 100]);
  });

  it("bounds one message by maxChars, keeping every piece in order", () => {
    const h = harness({ maxChars: 10 });
    for (const p of ["12345", "6789", "0abc", "de"]) h.batcher.push(p);
    h.batcher.close();
    expect(h.sent).toEqual([
      { text: "1234567890abc", pieces: 3 },
      { text: "de", pieces: 1 },
    ]);
  });

  it("defaults to a message bound well above a short answer", () => {
    expect(DEFAULT_CHUNK_MAX_CHARS).toBeGreaterThanOrEqual(4096);
  });

  it("sends nothing for an empty generation and drops pieces after close", () => {
    const h = harness();
    h.batcher.close();
    h.batcher.push("late");
    h.fire();
    expect(h.sent).toEqual([]);
  });
});
