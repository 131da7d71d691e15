/** Read-only views of the registry for the broker, the CLI and the re-planning trigger. */
import { freeSlots } from "./observation.js";
import type { RegistryState, RegistryTransition, Tombstone, WorkerRecord } from "./types.js";

/** Live workers, sorted by id. */
export function liveWorkers(state: RegistryState): WorkerRecord[] {
  return [...state.workers.values()].sort((a, b) =>
    a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0,
  );
}

/** Removed workers still remembered, newest first. */
export function goneWorkers(state: RegistryState): Tombstone[] {
  return [...state.tombstones.values()].sort(
    (a, b) => b.atMs - a.atMs || (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0),
  );
}

/** Why a live worker cannot take seats now, or undefined when it can. */
export function unseatableReason(record: WorkerRecord, nowMs: number): string | undefined {
  switch (record.state) {
    case "joined":
      return "still starting (loading the model or benchmarking)";
    case "suspect":
      return `suspect: no telemetry for ${((nowMs - record.lastSeenMs) / 1000).toFixed(1)} s`;
    case "draining":
      return "draining: accepts no new work";
    default: {
      const o = record.observation;
      if (o.slotsQueued > 0) return `no free slots: ${o.slotsQueued} requests already queued`;
      if (freeSlots(o) === 0) return `no free slots: ${o.slotsActive} of ${o.slotsTotal} in use`;
      return undefined;
    }
  }
}

/**
 * Whether a transition can change a plan: anything that moves a worker into or out of the seatable states
 * (ready, busy). ready ↔ busy alone does not (busy workers with free slots stay seatable; slot counts are
 * read from telemetry at plan time).
 */
export function affectsPlanning(t: RegistryTransition): boolean {
  const seatable = (s: RegistryTransition["from"]): boolean => s === "ready" || s === "busy";
  return seatable(t.from) !== seatable(t.to);
}
