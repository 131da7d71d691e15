/**
 * Batches generated text into chunks so that NATS never limits throughput: a chunk goes out when it holds
 * `maxChars` characters or when its first piece has waited `maxDelayMs`, whichever comes first. At a few
 * thousand tokens/s one message per token would cost more than the tokens; at 20 tokens/s a 25 ms delay is
 * invisible to a person watching the stream.
 */
export interface ChunkBatcherOptions {
  /** Flush once this many characters are buffered. @default 512 */
  maxChars?: number;
  /** Flush at most this long after the first buffered piece. @default 25 */
  maxDelayMs?: number;
  /** Receives each chunk in order with the number of pieces (tokens) it holds. */
  send(text: string, pieces: number): void;
  /** Injected timers (tests). @default setTimeout / clearTimeout */
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

export interface ChunkBatcher {
  push(piece: string): void;
  /** Sends whatever is buffered now (before the final result). */
  flush(): void;
  /** Flushes and stops the timer; later pushes are dropped. */
  close(): void;
}

export function createChunkBatcher(options: ChunkBatcherOptions): ChunkBatcher {
  const maxChars = options.maxChars ?? 512;
  const maxDelayMs = options.maxDelayMs ?? 25;
  const setTimer = options.setTimer ?? ((fn: () => void, ms: number) => setTimeout(fn, ms));
  const clearTimer = options.clearTimer ?? ((h: unknown) => clearTimeout(h as NodeJS.Timeout));
  let buffer = "";
  let pieces = 0;
  let timer: unknown;
  let closed = false;

  const flush = (): void => {
    if (timer !== undefined) {
      clearTimer(timer);
      timer = undefined;
    }
    if (pieces === 0) return;
    const text = buffer;
    const n = pieces;
    buffer = "";
    pieces = 0;
    options.send(text, n);
  };

  return {
    push(piece) {
      if (closed) return;
      buffer += piece;
      pieces += 1;
      if (buffer.length >= maxChars) flush();
      else if (timer === undefined) timer = setTimer(flush, maxDelayMs);
    },
    flush,
    close() {
      flush();
      closed = true;
    },
  };
}
