/** Deterministic randomness helpers: everything random in a job flows from one injected `Random`. */
import type { Random } from "./ports.js";

/**
 * A small seeded generator (mulberry32) for tests and reproducible runs. Not for secrets: fence nonces only
 * need to be unknown to the model when it wrote the text they fence, which holds because they are drawn later.
 */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [0, n). */
export function randomInt(random: Random, n: number): number {
  return Math.min(n - 1, Math.floor(random() * n));
}

/** A shuffled copy (Fisher–Yates). */
export function shuffled<T>(items: readonly T[], random: Random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(random, i + 1);
    const tmp = out[i] as T;
    out[i] = out[j] as T;
    out[j] = tmp;
  }
  return out;
}

/** `length` lower-case hex characters. */
export function randomHex(random: Random, length: number): string {
  let s = "";
  for (let i = 0; i < length; i++) s += randomInt(random, 16).toString(16);
  return s;
}

/** A 32-bit sampling seed, so repeated samples of one model differ yet replay identically. */
export function randomSeed(random: Random): number {
  return randomInt(random, 0x7fffffff);
}
