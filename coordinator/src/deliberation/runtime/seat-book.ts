/** The job's record of its seats: id assignment, every seat ever held, failed workers, the deny list. */
import { create } from "@bufbuild/protobuf";
import { SeatSchema } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";
import { SeatRole } from "../../../../proto/gen/conclave/v1/plan_pb.js";
import type { SeatInfo } from "../ports.js";
import { denyListFor } from "../scrub.js";

const ROLE_NAMES: Readonly<Record<SeatRole, string>> = {
  [SeatRole.UNSPECIFIED]: "seat",
  [SeatRole.AGENT]: "agent",
  [SeatRole.PROPOSER]: "proposer",
  [SeatRole.AGGREGATOR]: "aggregator",
  [SeatRole.CHAIRMAN]: "chairman",
  [SeatRole.SOLO]: "solo",
};

export function roleName(role: SeatRole): string {
  return ROLE_NAMES[role] ?? "seat";
}

export function synthesises(role: SeatRole): boolean {
  return role === SeatRole.AGGREGATOR || role === SeatRole.CHAIRMAN;
}

/** Why a seat cannot serve its role, or undefined when it can. Pure. */
export function unusableReason(info: SeatInfo, role: SeatRole): string | undefined {
  const model = info.seat.modelName || info.seat.workerId;
  if (info.profile.format === "raw" && (info.profile.templates?.propose ?? "") === "") {
    return `model ${model} is a raw-format model without a propose template`;
  }
  if (synthesises(role) && !info.profile.canAggregate) {
    const raw = info.profile.format === "raw" ? "; it only knows a raw task format" : "";
    return `model ${model} cannot synthesise answers (its profile says canAggregate: false${raw})`;
  }
  return undefined;
}

export class SeatBook {
  /** Every seat the job ever had, in seating order. */
  readonly all: SeatInfo[] = [];
  private readonly faulted = new Set<string>();
  private readonly counters = new Map<SeatRole, number>();
  private deny: string[] = [];

  /**
   * Gives an offered seat its job-unique id (`agent-1`, `agent-2`, … never reused, so a re-seat is a new
   * seat in the transcript) and adds its identity to the deny list.
   */
  assign(info: SeatInfo, role: SeatRole): SeatInfo {
    const n = (this.counters.get(role) ?? 0) + 1;
    this.counters.set(role, n);
    const seat = create(SeatSchema, {
      seatId: `${roleName(role)}-${n}`,
      role,
      workerId: info.seat.workerId,
      modelName: info.seat.modelName,
    });
    const out: SeatInfo = { ...info, seat };
    this.all.push(out);
    this.deny = denyListFor(
      this.all.map((s) => ({
        workerId: s.seat.workerId,
        modelName: s.seat.modelName,
        ...(s.host !== undefined ? { host: s.host } : {}),
        ...(s.profile.identityTerms !== undefined ? { identityTerms: s.profile.identityTerms } : {}),
      })),
    );
    return out;
  }

  /** Worker ids, hosts and model names of every seat so far. */
  get denyList(): readonly string[] {
    return this.deny;
  }

  markFaulted(workerId: string): void {
    this.faulted.add(workerId);
  }

  isFaulted(workerId: string): boolean {
    return this.faulted.has(workerId);
  }

  get faultedWorkerIds(): string[] {
    return [...this.faulted];
  }
}
