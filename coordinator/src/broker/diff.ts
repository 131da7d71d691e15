/** What changed between two plans (for the transcript and the CLI when the broker re-plans). */
import type { WorkerId } from "../../../proto/src/ids.js";
import type { Plan } from "./types.js";

export interface SeatGroup {
  role: string;
  workerId: WorkerId;
  /** Seats of this role on this worker. */
  count: number;
}

export interface PlanDiff {
  changed: boolean;
  /** Seats in `after` and not in `before` (per role and worker; counts are the difference). */
  added: SeatGroup[];
  removed: SeatGroup[];
  kept: SeatGroup[];
  statusBefore: Plan["status"];
  statusAfter: Plan["status"];
  valueBefore: number;
  valueAfter: number;
  computeSecondsBefore: number;
  computeSecondsAfter: number;
  /** One line per change, e.g. "+1 agent on w7", "−2 agent on w3". */
  summary: string[];
}

function groups(p: Plan): Map<string, SeatGroup> {
  const out = new Map<string, SeatGroup>();
  for (const s of p.seats) {
    const key = JSON.stringify([s.role, s.workerId]);
    const g = out.get(key);
    if (g) g.count++;
    else out.set(key, { role: s.role, workerId: s.workerId, count: 1 });
  }
  return out;
}

const totalValue = (p: Plan) => (p.status === "ok" ? p.totals.value : 0);
const totalSeconds = (p: Plan) => (p.status === "ok" ? p.totals.computeSeconds : 0);

function byKey(a: SeatGroup, b: SeatGroup): number {
  return a.role < b.role
    ? -1
    : a.role > b.role
      ? 1
      : a.workerId < b.workerId
        ? -1
        : a.workerId > b.workerId
          ? 1
          : 0;
}

export function diffPlans(before: Plan, after: Plan): PlanDiff {
  const a = groups(before);
  const b = groups(after);
  const added: SeatGroup[] = [];
  const removed: SeatGroup[] = [];
  const kept: SeatGroup[] = [];
  for (const [key, g] of b) {
    const prev = a.get(key)?.count ?? 0;
    if (prev > 0) kept.push({ ...g, count: Math.min(prev, g.count) });
    if (g.count > prev) added.push({ ...g, count: g.count - prev });
  }
  for (const [key, g] of a) {
    const next = b.get(key)?.count ?? 0;
    if (g.count > next) removed.push({ ...g, count: g.count - next });
  }
  added.sort(byKey);
  removed.sort(byKey);
  kept.sort(byKey);
  const summary: string[] = [];
  if (before.status !== after.status)
    summary.push(
      after.status === "ok"
        ? "plan is feasible again"
        : `plan became infeasible: ${after.status === "infeasible" ? after.reason : ""}`,
    );
  for (const g of removed) summary.push(`−${g.count} ${g.role} on ${g.workerId}`);
  for (const g of added) summary.push(`+${g.count} ${g.role} on ${g.workerId}`);
  const valueBefore = totalValue(before);
  const valueAfter = totalValue(after);
  if (summary.length > 0) summary.push(`value ${valueBefore.toFixed(3)} → ${valueAfter.toFixed(3)}`);
  return {
    changed: summary.length > 0,
    added,
    removed,
    kept,
    statusBefore: before.status,
    statusAfter: after.status,
    valueBefore,
    valueAfter,
    computeSecondsBefore: totalSeconds(before),
    computeSecondsAfter: totalSeconds(after),
    summary,
  };
}
