/** Named errors of the deliberation engine. All are ConclaveErrors, so the edges translate them as usual. */
import { FaultKind, StopReason } from "../../../proto/gen/conclave/v1/deliberation_pb.js";
import { ConclaveError, type ConclaveErrorOptions, ErrorCode } from "../../../proto/src/errors.js";

/** The job spec does not validate; `details` lists every problem. */
export class JobSpecError extends ConclaveError {
  override readonly name = "JobSpecError";
  constructor(problems: readonly string[]) {
    super(ErrorCode.INVALID_ARGUMENT, `invalid job spec: ${problems.join("; ")}`, { details: problems });
  }
}

/**
 * Ends a job before its strategy finished its shape: the stop reason says why. The engine turns it into
 * the job's result (with the best answer so far, when there is one).
 */
export class JobStop extends ConclaveError {
  override readonly name: string = "JobStop";
  readonly stopReason: StopReason;
  constructor(stopReason: StopReason, code: ErrorCode, message: string, options: ConclaveErrorOptions = {}) {
    super(code, message, options);
    this.stopReason = stopReason;
  }
}

/** Fewer than two agents remain (or a role has no seat left). */
export class QuorumLostError extends JobStop {
  override readonly name = "QuorumLostError";
  constructor(message: string) {
    super(StopReason.QUORUM_LOST, ErrorCode.FAILED_PRECONDITION, message);
  }
}

/** The strategy cannot run on the seats it got (e.g. an aggregator that cannot aggregate). */
export class StrategyRefusedError extends JobStop {
  override readonly name = "StrategyRefusedError";
  constructor(message: string) {
    super(StopReason.ERROR, ErrorCode.FAILED_PRECONDITION, message);
  }
}

export class JobCancelledError extends JobStop {
  override readonly name = "JobCancelledError";
  /** `reason`: what the owner said when cancelling (shown as "job cancelled: <reason>"). */
  constructor(reason?: string) {
    super(StopReason.CANCELLED, ErrorCode.CANCELLED, reason || "job cancelled");
  }
}

/** The owner's words from a cancelled job's abort signal (an Error's message), if it carried any. */
export function cancelReasonOf(signalReason: unknown): string | undefined {
  if (signalReason instanceof Error && signalReason.name !== "AbortError") return signalReason.message;
  return typeof signalReason === "string" && signalReason !== "" ? signalReason : undefined;
}

/** The job's wall-clock deadline passed mid-round. */
export class JobDeadlineError extends JobStop {
  override readonly name = "JobDeadlineError";
  constructor(message: string) {
    super(StopReason.DEADLINE, ErrorCode.DEADLINE_EXCEEDED, message);
  }
}

/** The job's token or compute budget ran out mid-strategy. */
export class BudgetExhaustedError extends JobStop {
  override readonly name = "BudgetExhaustedError";
  constructor(message: string) {
    super(StopReason.COMPUTE_BUDGET, ErrorCode.BUDGET_EXHAUSTED, message);
  }
}

/**
 * One call to one seat failed. When the worker is to blame (see runtime/faults.ts) the seat is out for the
 * rest of the round; otherwise only this call's result is missing.
 */
export class SeatFaultError extends ConclaveError {
  override readonly name: string = "SeatFaultError";
  readonly faultKind: FaultKind;
  constructor(faultKind: FaultKind, code: ErrorCode, message: string, options: ConclaveErrorOptions = {}) {
    super(code, message, options);
    this.faultKind = faultKind;
  }
}

/** The engine's own per-call deadline fired (the port did not answer in time). */
export class CallTimeoutError extends SeatFaultError {
  constructor(timeoutMs: number) {
    super(FaultKind.TIMEOUT, ErrorCode.DEADLINE_EXCEEDED, `no answer within ${Math.round(timeoutMs)} ms`);
  }
}

/**
 * A prompt does not fit the seat's context even in its shortest form (the task itself is too long, or the
 * instructions leave no room): the call fails before it is sent. Not the worker's fault.
 */
export class PromptTooLongError extends SeatFaultError {
  override readonly name = "PromptTooLongError";
  constructor(message: string) {
    super(FaultKind.ERROR, ErrorCode.CONTEXT_OVERFLOW, message);
  }
}
