/** Answer extraction, normalisation and majority vote (self-consistency). Pure. */

/** Longest answer compared verbatim; longer texts compare by their normalised first part. */
const MAX_KEY_CHARS = 500;

/** `1,000` / `+85` / `85.0` / `-0` → a canonical number string, or undefined when not a plain number. */
export function normaliseNumber(text: string): string | undefined {
  const t = text
    .trim()
    .replace(/^\$/, "")
    .replace(/[.。]$/, "");
  if (!/^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$/.test(t)) return undefined;
  const n = Number(t.replace(/,/g, ""));
  if (!Number.isFinite(n)) return undefined;
  return String(n === 0 ? 0 : n);
}

/**
 * The short answer inside a longer reply: an explicit marker (`\boxed{…}`, `final answer: …`,
 * `the answer is …`) when present, otherwise the whole text.
 */
export function extractAnswer(text: string): string {
  const t = text.trim();
  const boxed = /\\boxed\{([^{}]*)\}/.exec(t);
  if (boxed?.[1] !== undefined) return boxed[1].trim();
  const marked = /(?:final answer|answer)\s*(?:is|:)\s*([^\n]+)/i.exec(t);
  if (marked?.[1] !== undefined) return marked[1].trim().replace(/[.。]$/, "");
  return t;
}

/** The comparison key of an answer: numbers canonical, text lower case with collapsed whitespace. */
export function answerKey(text: string): string {
  const extracted = extractAnswer(text);
  const num = normaliseNumber(extracted);
  if (num !== undefined) return num;
  return extracted
    .toLowerCase()
    .replace(/\s+/g, " ")
    .replace(/^["'`]+|["'`.!]+$/g, "")
    .trim()
    .slice(0, MAX_KEY_CHARS);
}

export interface MajorityResult {
  /** Index of the first answer of the winning group. */
  index: number;
  key: string;
  /** The winning group's size. */
  count: number;
  /** Size of every group, by key. */
  counts: Map<string, number>;
}

/** Majority vote over answers by key; ties go to the group whose first answer came first. */
export function majorityVote(answers: readonly string[]): MajorityResult | undefined {
  const counts = new Map<string, number>();
  const firstIndex = new Map<string, number>();
  answers.forEach((a, i) => {
    const k = answerKey(a);
    counts.set(k, (counts.get(k) ?? 0) + 1);
    if (!firstIndex.has(k)) firstIndex.set(k, i);
  });
  let best: MajorityResult | undefined;
  for (const [key, count] of counts) {
    const index = firstIndex.get(key) ?? 0;
    if (best === undefined || count > best.count || (count === best.count && index < best.index)) {
      best = { index, key, count, counts };
    }
  }
  return best;
}
