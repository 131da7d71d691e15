/** Shared shapes of NSED's evaluation step. */
import type { Stance } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import type { MaskedCandidate } from "../masking.js";
import type { FaultClass } from "../runtime/faults.js";
import type { LedgerClaim } from "../state-view.js";

/** A proposal as evaluators see it (scrubbed). */
export interface Candidate {
  seatId: string;
  answer: string;
  rationale: string;
}

/** A candidate in one evaluator's masked view. */
export type ShownCandidateWithSeat = MaskedCandidate & Candidate;

/** One evaluator's judgement of one candidate, before it becomes a proto. */
export interface JudgedCandidate {
  seatId: string;
  alias: string;
  weight: number;
  stance: Stance;
  claims: LedgerClaim[];
  critique: string;
}

/** What one evaluation mode produced for one evaluator. */
export interface ModeResult {
  judged: JudgedCandidate[];
  valid: boolean;
  abstainReason: string;
  attempts: number;
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
  /** Calls that failed through no fault of the worker (e.g. a prompt too long for its context). */
  faults: FaultClass[];
}

export function emptyModeResult(): ModeResult {
  return {
    judged: [],
    valid: false,
    abstainReason: "",
    attempts: 0,
    promptTokens: 0,
    completionTokens: 0,
    latencyMs: 0,
    faults: [],
  };
}
