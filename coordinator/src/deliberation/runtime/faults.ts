/** Classifying a failed model call into a transcript fault. Pure. */
import { FaultKind } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { ErrorCode, errorCodeName, isConclaveError } from "../../../../proto/src/errors.js";
import { SeatFaultError } from "../errors.js";

export interface FaultClass {
  kind: FaultKind;
  /** Safe to record: our own words or the worker's typed error message, never an internal stack. */
  message: string;
}

export function classifyFault(err: unknown): FaultClass {
  if (err instanceof SeatFaultError) return { kind: err.faultKind, message: err.message };
  if (!isConclaveError(err)) return { kind: FaultKind.ERROR, message: "internal error" };
  const message = `${errorCodeName(err.code)}: ${err.message}`;
  switch (err.code) {
    case ErrorCode.DEADLINE_EXCEEDED:
      return { kind: FaultKind.TIMEOUT, message };
    case ErrorCode.UNAVAILABLE:
    case ErrorCode.NOT_FOUND:
      return { kind: FaultKind.WORKER_DIED, message };
    case ErrorCode.INVALID_OUTPUT:
      return { kind: FaultKind.INVALID_OUTPUT, message };
    default:
      return { kind: FaultKind.ERROR, message };
  }
}
