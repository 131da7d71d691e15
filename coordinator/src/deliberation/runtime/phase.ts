/**
 * Running one phase of a round on many seats at once. Each seat's work runs concurrently; a seat whose
 * call fails is recorded as a fault the moment it fails and drops out of the phase, the others go on.
 * Whether the seat also leaves the job's seating depends on blame (runtime/faults.ts).
 */
import { StopReason } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { JobStop } from "../errors.js";
import type { SeatInfo } from "../ports.js";
import { classifyFault } from "./faults.js";
import type { JobRuntime } from "./job-runtime.js";

export interface PhaseResult<T> {
  /** Successful results by seat id, in seat order. */
  ok: Map<string, T>;
  /** Seats whose worker failed (error, timeout, gone): out for the rest of the round, re-seated after it. */
  failed: SeatInfo[];
  /**
   * Seats whose call failed through no fault of the worker (invalid output, context overflow, invalid
   * argument): no result this phase, but they stay seated and their worker stays in the job.
   */
  invalid: SeatInfo[];
}

const FAILED = Symbol("failed");

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * How long a phase may keep building prompts before it lets the requests built so far leave. NATS flushes
 * at the end of a turn of the event loop, one socket write per turn: cheap prompts go out together in one
 * write, while a slow prompt never holds back the requests built before it by more than this.
 */
export const SEND_SLICE_MS = 1;

export async function runPhase<T>(
  rt: JobRuntime,
  round: number,
  seats: readonly SeatInfo[],
  work: (seat: SeatInfo) => Promise<T>,
  sliceMs = SEND_SLICE_MS,
): Promise<PhaseResult<T>> {
  const failed: SeatInfo[] = [];
  const invalid: SeatInfo[] = [];
  let stop: JobStop | undefined;
  const runSeat = async (seat: SeatInfo): Promise<T | typeof FAILED> => {
    try {
      return await work(seat);
    } catch (e) {
      if (e instanceof JobStop) {
        // Cancellation wins over a deadline; either ends the job once the phase has settled.
        if (stop === undefined || e.stopReason === StopReason.CANCELLED) stop = e;
        return FAILED;
      }
      const f = classifyFault(e);
      rt.recordFault(round, seat, f.kind, f.message, f.workerFault);
      (f.workerFault ? failed : invalid).push(seat);
      return FAILED;
    }
  };
  const tasks: Promise<T | typeof FAILED>[] = [];
  let sliceStart = performance.now();
  for (const seat of seats) {
    // A request leaves only when the current turn of the event loop ends (NATS flushes then). Yielding once
    // a slice is used up sends what is built so far, so the first workers are already generating while
    // later prompts are still being built, instead of all waiting for the last one.
    if (tasks.length > 0 && performance.now() - sliceStart >= sliceMs) {
      await nextTurn();
      sliceStart = performance.now();
    }
    tasks.push(runSeat(seat));
  }
  const results = await Promise.all(tasks);
  rt.checkCancelled();
  if (stop !== undefined) throw stop;
  rt.checkDeadline();
  const ok = new Map<string, T>();
  seats.forEach((seat, i) => {
    const r = results[i];
    if (r !== FAILED && r !== undefined) ok.set(seat.seat.seatId, r as T);
  });
  return { ok, failed, invalid };
}
