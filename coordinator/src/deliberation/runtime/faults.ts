/**
 * Classifying a failed model call into a transcript fault, and deciding whether the worker is to blame.
 * Pure.
 *
 * Blame decides what happens to the seat. A worker that died, timed out, became unavailable or failed
 * inside its model is out of the job: its seat leaves the round, is re-seated elsewhere and the worker goes
 * on the exclusion list. A call that failed because of what we sent (the prompt overflowed the context, an
 * argument was invalid) or because of what the model wrote (invalid output) says nothing about the
 * worker's health: only that call's result is missing, the seat stays where it is, and re-seating away
 * from a healthy worker would only shrink the pool (on a small cluster, down to a lost quorum).
 */
import { FaultKind } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { ErrorCode, errorCodeName, isConclaveError } from "../../../../proto/src/errors.js";
import { JobStop, SeatFaultError } from "../errors.js";

export interface FaultClass {
  kind: FaultKind;
  /** Safe to record: our own words or the worker's typed error message, never an internal stack. */
  message: string;
  /** Whether the worker is to blame: then it is excluded from the job and its seat re-seated. */
  workerFault: boolean;
}

/** Error codes that describe the request or the output, not the worker. */
const NOT_THE_WORKERS_FAULT: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.CONTEXT_OVERFLOW,
  ErrorCode.INVALID_ARGUMENT,
  ErrorCode.INVALID_OUTPUT,
]);

export function classifyFault(err: unknown): FaultClass {
  if (err instanceof SeatFaultError) {
    return { kind: err.faultKind, message: err.message, workerFault: !NOT_THE_WORKERS_FAULT.has(err.code) };
  }
  if (!isConclaveError(err)) return { kind: FaultKind.ERROR, message: "internal error", workerFault: true };
  const message = `${errorCodeName(err.code)}: ${err.message}`;
  const workerFault = !NOT_THE_WORKERS_FAULT.has(err.code);
  switch (err.code) {
    case ErrorCode.DEADLINE_EXCEEDED:
      return { kind: FaultKind.TIMEOUT, message, workerFault };
    case ErrorCode.UNAVAILABLE:
    case ErrorCode.NOT_FOUND:
      return { kind: FaultKind.WORKER_DIED, message, workerFault };
    case ErrorCode.INVALID_OUTPUT:
      return { kind: FaultKind.INVALID_OUTPUT, message, workerFault };
    default:
      return { kind: FaultKind.ERROR, message, workerFault };
  }
}

export type Guarded<T> = { ok: true; value: T } | { ok: false; fault: FaultClass };

/**
 * Runs one call; a failure the worker is not to blame for comes back as its fault class instead of a
 * throw, so the caller can carry on without that result. Job stops and worker faults still throw.
 */
export async function unlessWorkerFault<T>(run: () => Promise<T>): Promise<Guarded<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (e) {
    if (e instanceof JobStop) throw e;
    const fault = classifyFault(e);
    if (fault.workerFault) throw e;
    return { ok: false, fault };
  }
}
