/**
 * The forget-gated state view (brief §5.5): what an NSED agent is told about earlier rounds. Pure.
 *
 * The view, in priority order: the task (never cut); last round's winner in full; the agent's own last
 * proposal with its score and the critiques it received; the claim ledger; last round's score table; older
 * rounds as short summaries. A round of age a (the last round has age 0) carries weight γ^a: its summary
 * gets ~SUMMARY_CHARS·γ^a characters and is dropped once γ^a falls below `dropBelow`; its claims leave the
 * ledger at the same point. Sections are filled greedily in priority order; a section that does not fit is
 * cut (each text inside it clipped to the longest length that fits, found by binary search with the
 * injected token counter) or dropped, and older-round summaries may use at most `historyShare` of the
 * budget. So the view never exceeds its hard budget (beyond the task itself) and its size stays flat
 * however many rounds run. Every text another agent wrote is fenced as data.
 */
import { ClaimVerdict } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { fence } from "./fence.js";
import type { TokenCounter } from "./ports.js";

/** Characters an older round's summary gets at weight 1. */
export const SUMMARY_CHARS = 160;
/** Most claims the ledger shows. */
export const LEDGER_MAX_CLAIMS = 8;

/** One seat's part of a finished round, already scrubbed. */
export interface RoundEntry {
  seatId: string;
  answer: string;
  rationale: string;
  netSupport: number;
  /** Critiques this seat's proposal received. */
  critiques: readonly string[];
}

export interface LedgerClaim {
  text: string;
  verdict: ClaimVerdict;
}

/** What the engine remembers of one finished round. */
export interface RoundMemory {
  round: number;
  winnerSeatId: string;
  conviction: number;
  /** Best first. */
  entries: readonly RoundEntry[];
  claims: readonly LedgerClaim[];
}

export interface StateViewOptions {
  /** Forget gate: a round of age a weighs γ^a. */
  gamma: number;
  /** Rounds (and their claims) weighing less than this are forgotten. */
  dropBelow: number;
  /** Hard budget of the whole view in tokens (the task is never cut). */
  tokenBudget: number;
  /** Largest share of the budget older-round summaries may take. */
  historyShare: number;
  countTokens: TokenCounter;
  /** Fence nonce of the prompt the view goes into. */
  nonce: string;
}

export interface StateViewInput {
  task: string;
  /** The agent the view is for. */
  seatId: string;
  /** Finished rounds, oldest first. */
  history: readonly RoundMemory[];
}

export interface StateView {
  text: string;
  tokens: number;
  /** Names of the sections included, in order. */
  sections: string[];
  /** Whether any section was cut or dropped to fit. */
  truncated: boolean;
}

/** Weight of the round at `index` (oldest first) in a history of `length` rounds. */
export function roundWeight(index: number, length: number, gamma: number): number {
  return gamma ** (length - 1 - index);
}

/** The forget gate applied to memory itself: rounds whose weight fell below the threshold are dropped. */
export function pruneHistory(
  history: readonly RoundMemory[],
  gamma: number,
  dropBelow: number,
): RoundMemory[] {
  return history.filter((_, i) => roundWeight(i, history.length, gamma) >= dropBelow);
}

export function clip(text: string, limit: number): string {
  if (text.length <= limit) return text;
  return limit <= 1 ? "…".slice(0, limit) : `${text.slice(0, limit - 1)}…`;
}

/**
 * An entry's answer on one line. Every agent's view of a round shows the same entries: collapse each once
 * (the entries of a round are built once and never changed).
 */
const oneLineAnswers = new WeakMap<RoundEntry, string>();

function answerLine(e: RoundEntry): string {
  let line = oneLineAnswers.get(e);
  if (line === undefined) {
    line = e.answer.replace(/\s+/g, " ");
    oneLineAnswers.set(e, line);
  }
  return line;
}

function signed(x: number): string {
  return `${x >= 0 ? "+" : ""}${x.toFixed(2)}`;
}

interface Section {
  name: string;
  /** Renders with every variable text clipped to `limit` characters; "" when empty. */
  render: (limit: number) => string;
  /** Longest variable text (the largest limit worth trying). */
  maxLimit: number;
  /** Below this, clipping makes the section useless: drop it instead. */
  minLimit: number;
  /** Token cap of its own, besides the remaining budget. */
  cap?: number;
}

const VERDICT_WORD: Partial<Record<ClaimVerdict, string>> = {
  [ClaimVerdict.VERIFIED]: "verified",
  [ClaimVerdict.CONTESTED]: "contested",
  [ClaimVerdict.WRONG]: "wrong",
  [ClaimVerdict.UNCLEAR]: "unclear",
};

/**
 * The ledger does not depend on the agent, and every agent's view of a round is built from the same
 * history array: compute it once per history (the array is replaced, never mutated, each round).
 */
const ledgerCache = new WeakMap<readonly RoundMemory[], { key: string; ledger: LedgerClaim[] }>();

function cachedClaimLedger(history: readonly RoundMemory[], gamma: number, dropBelow: number): LedgerClaim[] {
  // The shape in the key too, so even a caller that pushed onto its array in place gets a fresh ledger.
  const key = `${gamma}/${dropBelow}/${history.length}/${history.at(-1)?.round}`;
  const hit = ledgerCache.get(history);
  if (hit?.key === key) return hit.ledger;
  const ledger = claimLedger(history, gamma, dropBelow);
  ledgerCache.set(history, { key, ledger });
  return ledger;
}

/** Ledger of claims from rounds still above the threshold: most recent first, one line per claim text. */
export function claimLedger(
  history: readonly RoundMemory[],
  gamma: number,
  dropBelow: number,
): LedgerClaim[] {
  const out: LedgerClaim[] = [];
  const seen = new Set<string>();
  for (let i = history.length - 1; i >= 0; i--) {
    if (roundWeight(i, history.length, gamma) < dropBelow) break;
    for (const c of history[i]?.claims ?? []) {
      const key = c.text.trim().toLowerCase().replace(/\s+/g, " ");
      if (key === "" || seen.has(key) || VERDICT_WORD[c.verdict] === undefined) continue;
      seen.add(key);
      out.push(c);
      if (out.length >= LEDGER_MAX_CLAIMS) return out;
    }
  }
  return out;
}

function buildSections(input: StateViewInput, o: StateViewOptions): Section[] {
  const last = input.history[input.history.length - 1];
  if (last === undefined) return [];
  const n = o.nonce;
  const sections: Section[] = [];
  const winner = last.entries.find((e) => e.seatId === last.winnerSeatId);
  if (winner !== undefined) {
    const mine = winner.seatId === input.seatId ? " — it was your proposal" : "";
    sections.push({
      name: "winner",
      maxLimit: Math.max(winner.answer.length, winner.rationale.length),
      minLimit: 40,
      render: (l) =>
        `## Last round's winning answer (round ${last.round}, conviction ${last.conviction.toFixed(2)}${mine})\n` +
        fence(
          "winning answer",
          `Answer: ${clip(winner.answer, l)}${winner.rationale ? `\nRationale: ${clip(winner.rationale, l)}` : ""}`,
          n,
        ),
    });
  }
  const rank = last.entries.findIndex((e) => e.seatId === input.seatId);
  const own = last.entries[rank];
  if (own !== undefined) {
    sections.push({
      name: "own",
      maxLimit: Math.max(own.answer.length, ...own.critiques.map((c) => c.length)),
      minLimit: 40,
      render: (l) => {
        const critiques = own.critiques
          .filter((c) => c.trim() !== "")
          .map((c, k) => fence(`critique ${k + 1}`, clip(c, l), n));
        return (
          `## Your last proposal: net support ${signed(own.netSupport)}, ranked ${rank + 1} of ${last.entries.length}\n` +
          fence("your answer", clip(own.answer, l), n) +
          (critiques.length > 0 ? `\nCritiques you received:\n${critiques.join("\n")}` : "")
        );
      },
    });
  }
  const ledger = cachedClaimLedger(input.history, o.gamma, o.dropBelow);
  if (ledger.length > 0) {
    sections.push({
      name: "ledger",
      maxLimit: Math.max(...ledger.map((c) => c.text.length)),
      minLimit: 30,
      render: (l) =>
        `## Claim ledger (reviewers' verdicts)\n${fence("claims", ledger.map((c) => `- ${VERDICT_WORD[c.verdict]}: ${clip(c.text, l)}`).join("\n"), n)}`,
    });
  }
  if (last.entries.length > 0) {
    sections.push({
      name: "scores",
      maxLimit: Math.min(120, Math.max(...last.entries.map((e) => e.answer.length))),
      minLimit: 12,
      render: (l) => {
        const rows = last.entries.map((e, k) => {
          const tag =
            e.seatId === last.winnerSeatId ? " (winner)" : e.seatId === input.seatId ? " (yours)" : "";
          return `${k + 1}. ${signed(e.netSupport)}${tag}: ${clip(answerLine(e), l)}`;
        });
        return `## Scores last round (net support, best first)\n${fence("scores", rows.join("\n"), n)}`;
      },
    });
  }
  const older = input.history
    .map((m, i) => ({ m, w: roundWeight(i, input.history.length, o.gamma) }))
    .slice(0, -1)
    .filter(({ w }) => w >= o.dropBelow)
    .reverse();
  if (older.length > 0) {
    sections.push({
      name: "earlier",
      maxLimit: SUMMARY_CHARS,
      minLimit: 20,
      cap: Math.floor(o.tokenBudget * o.historyShare),
      render: (l) => {
        const lines = older.map(({ m, w }) => {
          const win = m.entries.find((e) => e.seatId === m.winnerSeatId);
          const chars = Math.max(8, Math.round(Math.min(l, SUMMARY_CHARS) * w));
          return `Round ${m.round} (conviction ${m.conviction.toFixed(2)}): ${clip(win !== undefined ? answerLine(win) : "", chars)}`;
        });
        return `## Earlier rounds (older memories fade)\n${fence("earlier winners", lines.join("\n"), n)}`;
      },
    });
  }
  return sections;
}

/**
 * The largest limit in [minLimit, maxLimit] whose rendering fits in `cap` tokens, or undefined. `full` is
 * the rendering at maxLimit (the common case: it fits, and nothing else is rendered).
 */
function fitLimit(section: Section, full: string, cap: number, count: TokenCounter): string | undefined {
  const fits = (text: string) => count(`\n\n${text}`) <= cap;
  if (fits(full)) return full;
  let lo = section.minLimit;
  let hi = section.maxLimit - 1;
  if (lo > hi) return undefined;
  let best = section.render(lo);
  if (!fits(best)) return undefined;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const text = section.render(mid);
    if (fits(text)) {
      best = text;
      lo = mid;
    } else hi = mid - 1;
  }
  return best;
}

/** Builds one agent's view within the hard token budget. */
export function buildStateView(input: StateViewInput, o: StateViewOptions): StateView {
  const parts = [{ name: "task", text: `## Task\n${input.task}` }];
  let joined = parts[0]?.text ?? "";
  let truncated = false;
  for (const s of buildSections(input, o)) {
    const cap = Math.min(o.tokenBudget - o.countTokens(joined), s.cap ?? Number.POSITIVE_INFINITY);
    const full = s.render(s.maxLimit);
    const text = fitLimit(s, full, cap, o.countTokens);
    if (text === undefined) {
      truncated = true;
      continue;
    }
    if (text !== full) truncated = true;
    parts.push({ name: s.name, text });
    joined += `\n\n${text}`;
  }
  // A counter that is not additive could still overshoot: drop from the lowest priority until it fits.
  let text = joined;
  while (parts.length > 1 && o.countTokens(text) > o.tokenBudget) {
    parts.pop();
    truncated = true;
    text = parts.map((p) => p.text).join("\n\n");
  }
  return { text, tokens: o.countTokens(text), sections: parts.map((p) => p.name), truncated };
}
