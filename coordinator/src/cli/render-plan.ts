/** `conclave plan` output. Pure. */
import type { Plan } from "../../../proto/gen/conclave/v1/plan_pb.js";
import { seatRoleNames } from "../../../proto/src/names.js";
import { renderTable } from "./format.js";

export interface PlanJson {
  feasible: boolean;
  infeasibleReason?: string;
  seats: Array<{
    role: string;
    index: number;
    workerId: string;
    model: string;
    family: string;
    value: number;
    expectedSeconds: number;
    expectedJoules: number;
    reason: string;
  }>;
  excluded: Array<{ workerId: string; model: string; reason: string }>;
  totals: { value: number; seconds: number; joules: number };
  solveMs: number;
}

export function planToJson(plan: Plan): PlanJson {
  return {
    feasible: plan.infeasibleReason === "",
    ...(plan.infeasibleReason ? { infeasibleReason: plan.infeasibleReason } : {}),
    seats: plan.seats.map((s) => ({
      role: seatRoleNames.name(s.role),
      index: s.index,
      workerId: s.workerId,
      model: s.modelName,
      family: s.family,
      value: s.value,
      expectedSeconds: s.expectedSeconds,
      expectedJoules: s.expectedJoules,
      reason: s.reason,
    })),
    excluded: plan.excluded.map((e) => ({ workerId: e.workerId, model: e.modelName, reason: e.reason })),
    totals: { value: plan.totalValue, seconds: plan.totalSeconds, joules: plan.totalJoules },
    solveMs: plan.solveMs,
  };
}

export function renderPlan(plan: Plan): string {
  const out: string[] = [];
  if (plan.infeasibleReason) out.push(`No valid seating: ${plan.infeasibleReason}`);
  if (plan.seats.length > 0) {
    out.push(
      renderTable(
        ["SEAT", "WORKER", "MODEL", "VALUE", "EST. S/ROUND", "WHY"],
        plan.seats.map((s) => [
          `${seatRoleNames.name(s.role)}#${s.index + 1}`,
          s.workerId,
          s.modelName,
          s.value.toFixed(3),
          s.expectedSeconds.toFixed(2),
          s.reason,
        ]),
      ),
    );
    out.push(
      `total value ${plan.totalValue.toFixed(3)} · ${plan.totalSeconds.toFixed(2)} seat-seconds per round` +
        `${plan.totalJoules > 0 ? ` · ${plan.totalJoules.toFixed(0)} J` : ""} · solved exactly in ${plan.solveMs.toFixed(1)} ms`,
    );
  }
  if (plan.excluded.length > 0) {
    out.push("", "Not seated:");
    for (const e of plan.excluded) out.push(`  ${e.workerId} (${e.modelName}): ${e.reason}`);
  }
  return out.join("\n");
}
