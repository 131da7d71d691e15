/**
 * Identity masking for cross-evaluation (brief §5.2–5.3). Pure, randomness injected.
 *
 * Each evaluator, every round, sees the other proposals under fresh random aliases in a fresh random order.
 * The alias letters are drawn independently of the display order, so neither the letter nor the position
 * says anything about who wrote a candidate or where it stood for another evaluator. The evaluator's own
 * proposal is never a candidate (diagonal mask).
 */
import type { Random } from "./ports.js";
import { shuffled } from "./random.js";

export interface MaskedCandidate {
  /** e.g. `Candidate C` */
  alias: string;
  seatId: string;
}

/** `A`, `B`, … `Z`, `AA`, `AB`, … */
export function aliasLetters(index: number): string {
  let n = index;
  let s = "";
  do {
    s = String.fromCharCode(65 + (n % 26)) + s;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return s;
}

/** The candidates one evaluator sees, in display order; its own seat is left out. */
export function maskCandidates(
  evaluatorSeatId: string,
  candidateSeatIds: readonly string[],
  random: Random,
  label = "Candidate",
): MaskedCandidate[] {
  const others = candidateSeatIds.filter((s) => s !== evaluatorSeatId);
  const order = shuffled(others, random);
  const letters = shuffled(
    others.map((_, i) => aliasLetters(i)),
    random,
  );
  return order.map((seatId, i) => ({ alias: `${label} ${letters[i]}`, seatId }));
}
