/**
 * Value groups: the broker's equivalence classes of workers (symmetry breaking for the exact search).
 *
 * What the solver reads of a worker splits in two. The value side — the value of a seat of each role,
 * which roles of a class it may take, its model (repeat decay) and its family (diversity cap) — decides
 * the plan's value and every constraint except the per-worker ones (slots, latency) and the budgets. The
 * cost side — slots, σ, watts, seconds and latency caps per role class — decides only costs and the
 * per-worker limits. Realistic pools hold several workers of one model (one profile, one quality) on
 * different GPUs: equal on the value side, different on the cost side, so the search met the same value
 * again and again, once per way of spreading a model's seats over its workers.
 *
 * Two workers are value-equivalent when they have the same model, the same family and, for every role, the
 * same potential seat value (capability match × quality × reliability × weight, or none when an ability or
 * tag is missing). A role class a worker cannot run at all (no measured throughput, or over the latency
 * budget) is absent for that worker only: the roles of a class share one token estimate, so such a filter
 * removes the whole class and never changes which roles of a class a worker may take. Hence, for every
 * class any two members both have, value and eligible roles agree, and a group is described by the union
 * of its members' classes (`GroupClass`). The search (solve.ts) decides how many seats of each class a
 * group gets — which fixes value, roles, family and agent counts — and takes the cost of the cheapest ways
 * to spread those seats over the members from group-fronts.ts. Identical workers (the same on both sides)
 * are just members with equal costs, handled by the same spreading without any permutation.
 */
import type { Candidate } from "./candidates.js";

/** A role class as a whole group sees it (equal on every member that has it). */
export interface GroupClass {
  cls: number;
  agent: boolean;
  /** Base value of a seat (before repeat decay). */
  value: number;
  /** Roles of the class the members may take (ascending). */
  roles: readonly number[];
}

export interface ValueGroup {
  index: number;
  /** Members are the candidates first..end−1 (groups are contiguous in canonical order). */
  first: number;
  end: number;
  modelIdx: number;
  familyIdx: number;
  /** Union of the members' classes: value desc, then class index. */
  classes: GroupClass[];
  /** [member][class position]: single-seat seconds, Infinity when the member lacks the class. */
  seconds: Float64Array[];
  /** [member][class position]: seats of that class alone the member can hold (slots, latency); 0 if absent. */
  caps: Int32Array[];
  /** Per class position: Σ over members of their caps. */
  classCap: Int32Array;
  /** Σ over members of their slots (an upper bound on the group's seats). */
  seatCap: number;
}

/**
 * The equivalence key of a worker: model, family and its potential value for every role (−1 = may not
 * take it). `potential[r]` must be computed before the latency and throughput filters.
 */
export function valueKey(modelIdx: number, familyIdx: number, potential: readonly number[]): string {
  return JSON.stringify([modelIdx, familyIdx, potential]);
}

/**
 * Reorders items (already in the wanted order) so that equal keys are contiguous: groups in the order of
 * their first member, members in their original order. Stable and deterministic.
 */
export function contiguousByKey<T>(sorted: readonly T[], keyOf: (t: T) => string): T[] {
  const byKey = new Map<string, T[]>();
  for (const t of sorted) {
    const k = keyOf(t);
    const list = byKey.get(k);
    if (list) list.push(t);
    else byKey.set(k, [t]);
  }
  return [...byKey.values()].flat();
}

/** Groups of contiguous candidates with the same `group` index (candidates.ts assigns it by `valueKey`). */
export function buildGroups(candidates: readonly Candidate[]): ValueGroup[] {
  const groups: ValueGroup[] = [];
  let i = 0;
  while (i < candidates.length) {
    const head = candidates[i] as Candidate;
    let end = i + 1;
    while (end < candidates.length && (candidates[end] as Candidate).group === head.group) end++;
    const members = candidates.slice(i, end);
    const byCls = new Map<number, GroupClass>();
    for (const c of members)
      for (const cl of c.classes)
        if (!byCls.has(cl.cls))
          byCls.set(cl.cls, { cls: cl.cls, agent: cl.agent, value: cl.value, roles: cl.roles });
    const classes = [...byCls.values()].sort((a, b) => b.value - a.value || a.cls - b.cls);
    const seconds = members.map((c) =>
      Float64Array.from(
        classes,
        (gc) => c.classes.find((cl) => cl.cls === gc.cls)?.seconds ?? Number.POSITIVE_INFINITY,
      ),
    );
    const caps = members.map((c) =>
      Int32Array.from(classes, (gc) => {
        const cl = c.classes.find((x) => x.cls === gc.cls);
        return cl ? Math.min(c.slots, cl.latencyCap) : 0;
      }),
    );
    const classCap = Int32Array.from(classes, (_, k) => caps.reduce((s, row) => s + (row[k] as number), 0));
    const seatCap = members.reduce((s, c) => s + c.slots, 0);
    groups.push({
      index: groups.length,
      first: i,
      end,
      modelIdx: head.modelIdx,
      familyIdx: head.familyIdx,
      classes,
      seconds,
      caps,
      classCap,
      seatCap,
    });
    i = end;
  }
  return groups;
}
