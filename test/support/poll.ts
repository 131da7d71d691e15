/**
 * Waiting without fixed sleeps: poll a condition until it holds or a named timeout passes, then fail with
 * the name and the last value seen, so a failing test says what it was waiting for.
 */
export class PollTimeoutError extends Error {
  override readonly name = "PollTimeoutError";
}

export interface PollOptions {
  /** @default 10000 */
  timeoutMs?: number;
  /** @default 25 */
  intervalMs?: number;
}

/**
 * Calls `probe` until it returns a value other than undefined/false, and returns that value.
 * Errors thrown by the probe count as "not yet" and are reported if time runs out.
 */
export async function pollUntil<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  options: PollOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new PollTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Resolves with the next value an async iterator yields that matches, or fails after a named timeout. */
export async function nextMatching<T>(
  what: string,
  iterator: AsyncIterator<T>,
  match: (value: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new PollTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), timeout]);
      if (next.done) throw new Error(`stream ended while waiting for ${what}`);
      if (match(next.value)) return next.value;
    }
  } finally {
    clearTimeout(timer);
  }
}
