/**
 * Quadratic voting over one round's cross-evaluations (brief §5.4). Pure.
 *
 * Evaluator i spends one credit over the candidates it scored: f_ij = w_ij / Σ_k |w_ik|; its vote is
 * q_ij = sign(f_ij)·√|f_ij|. Support A_j = Σ_{i≠j} q_ij, net support ns_j = A_j / (valid evaluators of j).
 * The diagonal is masked here as well as in the prompts: a weight an evaluator gives its own seat is dropped,
 * so no evaluator can ever move its own proposal's score.
 */

/** Weights are endorsements in [-100, 100]; anything outside is clamped, non-finite values are dropped. */
export const MAX_WEIGHT = 100;

/** One evaluator's weights for one round. */
export interface EvaluatorWeights {
  evaluatorSeatId: string;
  /** False when the evaluator abstained (invalid output, fault): its weights are ignored. */
  valid: boolean;
  /** Candidate seat id → weight. */
  weights: ReadonlyMap<string, number>;
}

/** Support a seat collected in earlier rounds (for the running-mean tie-breaker). */
export interface SupportHistory {
  sum: number;
  rounds: number;
}

export interface TallyInput {
  /** Seats with a proposal this round. */
  candidates: readonly string[];
  evaluations: readonly EvaluatorWeights[];
  /** Earlier rounds' support per seat. */
  history?: ReadonlyMap<string, SupportHistory>;
  /** Cost of each proposal (lower wins a tie after the running mean). */
  costs?: ReadonlyMap<string, number>;
  /**
   * Normalised answer per seat. Seats that gave the same answer pool their net support for the conviction,
   * so a panel that agrees converges (with per-seat conviction, unanimity would read as 1/N).
   */
  answerKeys?: ReadonlyMap<string, string>;
}

export interface VoteRow {
  evaluatorSeatId: string;
  candidateSeatId: string;
  weight: number;
  /** f_ij */
  credit: number;
  /** q_ij */
  vote: number;
}

export interface TallyRow {
  seatId: string;
  /** A_j */
  support: number;
  /** ns_j */
  netSupport: number;
  /** Valid evaluators that scored j. */
  evaluators: number;
  /** Mean of A_j over this and earlier rounds. */
  runningMeanSupport: number;
  /** Votes with q > 0. */
  votesFor: number;
}

export interface TallyResult {
  votes: VoteRow[];
  /** In candidate order. */
  tallies: TallyRow[];
  /** Undefined only when there are no candidates. */
  winnerSeatId: string | undefined;
  /**
   * Positive-mass conviction, the one the stopping rule uses and RoundSummary.conviction reports:
   * Σ max(ns, 0) of the winner's answer group / Σ max(ns, 0) over all candidates, in [0, 1]; 0 when no
   * candidate has positive net support. See `conviction` for why it is not the brief's formula.
   */
  conviction: number;
  /**
   * The brief's conviction, Σ ns of the winner's answer group / Σ |ns| over all candidates (in [−1, 1]);
   * 0 when nobody voted. Kept for comparison; every ns_j is in the RoundSummary, so it can be re-derived.
   */
  signedConviction: number;
  /** Evaluators that cast at least one vote. */
  validEvaluators: number;
}

function clampWeight(w: number): number {
  return Math.max(-MAX_WEIGHT, Math.min(MAX_WEIGHT, w));
}

/**
 * One evaluator's quadratic votes over the candidates it scored (its own seat already removed).
 * Returns undefined when Σ|w| = 0: an evaluator with no opinion abstains rather than dividing by zero.
 */
export function quadraticVotes(
  scored: ReadonlyArray<readonly [candidateSeatId: string, weight: number]>,
): Array<{ candidateSeatId: string; weight: number; credit: number; vote: number }> | undefined {
  const finite = scored.filter(([, w]) => Number.isFinite(w)).map(([c, w]) => [c, clampWeight(w)] as const);
  const total = finite.reduce((s, [, w]) => s + Math.abs(w), 0);
  if (total === 0) return undefined;
  return finite.map(([candidateSeatId, weight]) => {
    const credit = weight / total;
    return { candidateSeatId, weight, credit, vote: Math.sign(credit) * Math.sqrt(Math.abs(credit)) };
  });
}

/** Rounds away float noise so ties between equal sums are recognised as ties. */
function tieKey(x: number): number {
  return Math.round(x * 1e9) / 1e9;
}

/** Tallies a round: votes, per-seat support, the winner and its conviction. */
export function tallyRound(input: TallyInput): TallyResult {
  const candidateSet = new Set(input.candidates);
  const support = new Map<string, number>();
  const evaluatorCount = new Map<string, number>();
  const votesFor = new Map<string, number>();
  for (const c of input.candidates) {
    support.set(c, 0);
    evaluatorCount.set(c, 0);
    votesFor.set(c, 0);
  }
  const votes: VoteRow[] = [];
  let validEvaluators = 0;
  for (const ev of input.evaluations) {
    if (!ev.valid) continue;
    const scored = [...ev.weights].filter(([c]) => c !== ev.evaluatorSeatId && candidateSet.has(c));
    const qv = quadraticVotes(scored);
    if (qv === undefined) continue;
    validEvaluators++;
    for (const v of qv) {
      votes.push({ evaluatorSeatId: ev.evaluatorSeatId, ...v });
      support.set(v.candidateSeatId, (support.get(v.candidateSeatId) ?? 0) + v.vote);
      evaluatorCount.set(v.candidateSeatId, (evaluatorCount.get(v.candidateSeatId) ?? 0) + 1);
      if (v.vote > 0) votesFor.set(v.candidateSeatId, (votesFor.get(v.candidateSeatId) ?? 0) + 1);
    }
  }
  const tallies: TallyRow[] = input.candidates.map((seatId) => {
    const a = support.get(seatId) ?? 0;
    const n = evaluatorCount.get(seatId) ?? 0;
    const h = input.history?.get(seatId);
    return {
      seatId,
      support: a,
      netSupport: n > 0 ? a / n : 0,
      evaluators: n,
      runningMeanSupport: ((h?.sum ?? 0) + a) / ((h?.rounds ?? 0) + 1),
      votesFor: votesFor.get(seatId) ?? 0,
    };
  });
  const winner = pickWinner(tallies, input.costs);
  return {
    votes,
    tallies,
    winnerSeatId: winner?.seatId,
    conviction: winner === undefined ? 0 : conviction(winner.seatId, tallies, input.answerKeys),
    signedConviction: winner === undefined ? 0 : signedConviction(winner.seatId, tallies, input.answerKeys),
    validEvaluators,
  };
}

/** argmax A_j; ties: higher running mean of support, then lower cost, then seat id (stable, replayable). */
export function pickWinner(
  tallies: readonly TallyRow[],
  costs?: ReadonlyMap<string, number>,
): TallyRow | undefined {
  let best: TallyRow | undefined;
  for (const t of tallies) {
    if (best === undefined || compareForWin(t, best, costs) < 0) best = t;
  }
  return best;
}

/** Negative when `a` ranks ahead of `b`. */
export function compareForWin(a: TallyRow, b: TallyRow, costs?: ReadonlyMap<string, number>): number {
  const bySupport = tieKey(b.support) - tieKey(a.support);
  if (bySupport !== 0) return bySupport;
  const byMean = tieKey(b.runningMeanSupport) - tieKey(a.runningMeanSupport);
  if (byMean !== 0) return byMean;
  const byCost = (costs?.get(a.seatId) ?? 0) - (costs?.get(b.seatId) ?? 0);
  if (byCost !== 0) return byCost;
  return a.seatId < b.seatId ? -1 : a.seatId > b.seatId ? 1 : 0;
}

/** The winner's seat and every seat that gave the same (normalised) answer. */
function winnerGroup(
  winnerSeatId: string,
  tallies: readonly TallyRow[],
  answerKeys?: ReadonlyMap<string, string>,
): TallyRow[] {
  const key = answerKeys?.get(winnerSeatId);
  return tallies.filter(
    (t) => t.seatId === winnerSeatId || (key !== undefined && answerKeys?.get(t.seatId) === key),
  );
}

/**
 * The winner's conviction on positive mass: Σ max(ns, 0) over the winner's answer group, over
 * Σ max(ns, 0) over every candidate. Without answer keys each seat is its own group.
 *
 * Why not the brief's ns_win / Σ|ns|: rejection is evidence *against* an alternative, yet in Σ|ns| it
 * counts as mass competing with the winner. The better the panel gets at rejecting wrong answers, the lower
 * the conviction: one endorsed answer (ns +0.5) among three firmly rejected ones (ns −0.8 each) reads as
 * 0.5 / 2.9 = 0.17, and NSED would never converge on the clearest outcome there is. On positive mass the
 * same round reads 1.0 (all endorsement went to the winner), while a split endorsement (+0.5 against
 * +0.4) still reads 0.56 — below the default threshold. A winner nobody endorsed has conviction 0.
 */
export function conviction(
  winnerSeatId: string,
  tallies: readonly TallyRow[],
  answerKeys?: ReadonlyMap<string, string>,
): number {
  const positive = (rows: readonly TallyRow[]) => rows.reduce((s, t) => s + Math.max(t.netSupport, 0), 0);
  const denom = positive(tallies);
  return denom === 0 ? 0 : positive(winnerGroup(winnerSeatId, tallies, answerKeys)) / denom;
}

/** The brief's conviction: Σ ns over the winner's answer group / Σ|ns| over every candidate. */
export function signedConviction(
  winnerSeatId: string,
  tallies: readonly TallyRow[],
  answerKeys?: ReadonlyMap<string, string>,
): number {
  const denom = tallies.reduce((s, t) => s + Math.abs(t.netSupport), 0);
  if (denom === 0) return 0;
  return winnerGroup(winnerSeatId, tallies, answerKeys).reduce((s, t) => s + t.netSupport, 0) / denom;
}

/** The seats ranked best first by the same order that picks the winner. */
export function rankTallies(tallies: readonly TallyRow[], costs?: ReadonlyMap<string, number>): TallyRow[] {
  return [...tallies].sort((a, b) => compareForWin(a, b, costs));
}
