/** Asking the seat provider for seats: the first seating (strict) and re-seating after faults (lenient). */
import { create } from "@bufbuild/protobuf";
import { FaultKind, SeatedSchema } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import type { SeatRole } from "../../../../proto/gen/conclave/v1/plan_pb.js";
import { isConclaveError } from "../../../../proto/src/errors.js";
import { JobStop, QuorumLostError, StrategyRefusedError } from "../errors.js";
import { STRATEGY_NAMES } from "../params.js";
import type { RoleDemand, SeatInfo, SeatRequest } from "../ports.js";
import { callWithDeadline } from "./deadline.js";
import type { JobRuntime } from "./job-runtime.js";
import { roleName, synthesises, unusableReason } from "./seat-book.js";

function providerMessage(e: unknown): string {
  return isConclaveError(e) ? e.message : "seat provider failed";
}

/** Asks the provider under the same per-call deadline as a model call: a stuck broker cannot hang a job. */
function ask(rt: JobRuntime, req: Omit<SeatRequest, "signal">): Promise<SeatInfo[]> {
  return callWithDeadline(
    (signal) => rt.seatProvider.seat({ ...req, signal }),
    rt.callTimeoutMs(),
    rt.signal,
  );
}

/**
 * Seats for the job's first round. Fails the job when a role gets fewer than its minimum, and refuses the
 * strategy when a synthesising role (aggregator, chairman) went to a model that cannot synthesise.
 */
export async function acquireSeats(
  rt: JobRuntime,
  demands: readonly RoleDemand[],
  round: number,
): Promise<SeatInfo[]> {
  const name = STRATEGY_NAMES[rt.spec.strategy];
  let offered: SeatInfo[];
  try {
    offered = await ask(rt, {
      strategy: rt.spec.strategy,
      roles: demands,
      excludeWorkerIds: rt.book.faultedWorkerIds,
      seatedWorkerIds: [],
      round,
    });
  } catch (e) {
    rt.checkCancelled();
    if (e instanceof JobStop) throw e;
    throw new StrategyRefusedError(`no seating for strategy ${name}: ${providerMessage(e)}`);
  }
  const out: SeatInfo[] = [];
  for (const d of demands) {
    const mine = offered.filter((s) => s.seat.role === d.role).slice(0, d.count);
    for (const s of mine) {
      const why = unusableReason(s, d.role);
      if (why === undefined) continue;
      if (synthesises(d.role)) {
        const article = roleName(d.role).match(/^[aeiou]/) ? "an" : "a";
        throw new StrategyRefusedError(
          `strategy ${name} needs ${article} ${roleName(d.role)} that can synthesise answers, but ${why}`,
        );
      }
      rt.log(`not using an offered ${roleName(d.role)} seat: ${why}`);
    }
    const usable = mine.filter((s) => unusableReason(s, d.role) === undefined);
    if (usable.length < d.min) {
      throw new QuorumLostError(
        `strategy ${name} needs at least ${d.min} ${roleName(d.role)} seat(s); only ${usable.length} could be filled`,
      );
    }
    out.push(...usable.map((s) => rt.book.assign(s, d.role)));
  }
  return out;
}

/**
 * Asks for seats beside the ones the job keeps (`stillSeated`, one entry per seat: the provider subtracts
 * each from the worker's free slots); a provider failure is logged and answered with no seats.
 */
async function askLeniently(
  rt: JobRuntime,
  round: number,
  roles: readonly RoleDemand[],
  stillSeated: readonly SeatInfo[],
  what: string,
): Promise<SeatInfo[]> {
  try {
    return await ask(rt, {
      strategy: rt.spec.strategy,
      roles,
      excludeWorkerIds: rt.book.faultedWorkerIds,
      seatedWorkerIds: stillSeated.map((s) => s.seat.workerId),
      round,
    });
  } catch (e) {
    rt.checkCancelled();
    if (e instanceof JobStop) throw e;
    rt.log(`${what} for round ${round} failed: ${providerMessage(e)}`);
    return [];
  }
}

/** The first `count` offers for `role` the job can use: never a worker that failed it. */
function usableOffers(
  rt: JobRuntime,
  offered: readonly SeatInfo[],
  role: SeatRole,
  count: number,
): SeatInfo[] {
  return offered
    .filter((s) => s.seat.role === role && !rt.book.isFaulted(s.seat.workerId))
    .filter((s) => unusableReason(s, role) === undefined)
    .slice(0, count);
}

/**
 * Fresh seats for failed ones, never on a worker that failed this job; `stillSeated` are the seats the job
 * keeps (every one of them: a worker holding two seats is passed twice, so a provider counting its free
 * slots does not stack a third seat on it). Records a RESEATED fault per replacement. May return fewer than
 * asked; never throws (except cancel).
 */
export async function reseat(
  rt: JobRuntime,
  round: number,
  failed: readonly SeatInfo[],
  stillSeated: readonly SeatInfo[],
): Promise<SeatInfo[]> {
  if (failed.length === 0) return [];
  const byRole = new Map<SeatRole, SeatInfo[]>();
  for (const s of failed) byRole.set(s.seat.role, [...(byRole.get(s.seat.role) ?? []), s]);
  const demands: RoleDemand[] = [...byRole].map(([role, seats]) => ({ role, count: seats.length, min: 0 }));
  const offered = await askLeniently(rt, round, demands, stillSeated, "re-seating");
  const fresh: SeatInfo[] = [];
  for (const [role, old] of byRole) {
    usableOffers(rt, offered, role, old.length).forEach((s, k) => {
      const seat = rt.book.assign(s, role);
      const replaced = old[k];
      if (replaced !== undefined) {
        rt.recordFault(
          round,
          seat,
          FaultKind.RESEATED,
          `${seat.seat.seatId} replaces ${replaced.seat.seatId} (worker ${replaced.seat.workerId} → ${seat.seat.workerId})`,
        );
      }
      fresh.push(seat);
    });
  }
  return fresh;
}

/**
 * More seats of one role for a job running short of what it asked for (the pool was smaller when it
 * started, or a re-seat found nobody): used when the pool changed, e.g. a worker joined. May return fewer
 * than asked or none; never throws (except cancel).
 */
export async function growSeats(
  rt: JobRuntime,
  round: number,
  role: SeatRole,
  count: number,
  stillSeated: readonly SeatInfo[],
): Promise<SeatInfo[]> {
  if (count <= 0) return [];
  const demand = [{ role, count, min: 0 }];
  const offered = await askLeniently(
    rt,
    round,
    demand,
    stillSeated,
    `looking for more ${roleName(role)} seats`,
  );
  return usableOffers(rt, offered, role, count).map((s) => {
    const seat = rt.book.assign(s, role);
    rt.log(
      `${seat.seat.seatId} joins from round ${round} on worker ${seat.seat.workerId} (the pool changed)`,
    );
    return seat;
  });
}

/** Records the seats a round runs with. */
export function emitSeated(rt: JobRuntime, round: number, seats: readonly SeatInfo[]): void {
  rt.emit({ case: "seated", value: create(SeatedSchema, { round, seats: seats.map((s) => s.seat) }) });
}
