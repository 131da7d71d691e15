/**
 * The registry's transition function: pure, with the clock injected as `nowMs` (the receiver's clock —
 * liveness never trusts a sender's clock). The I/O shell feeds it every telemetry report and a `tick`
 * about once a second, publishes the transitions, and re-plans when `affectsPlanning` says so.
 *
 * State machine (reported state → registry state): starting → joined, ready → ready, busy → busy,
 * draining → draining, leaving → left (removed). Silence ≥ suspectAfterMs → suspect; silence ≥ deadAfterMs →
 * dead (removed; a tick that finds a worker already past deadAfterMs goes straight to dead). Telemetry from a
 * suspect worker restores its reported state; telemetry from a dead or left worker (a tombstone) re-joins it
 * through `joined`, so every join — first or repeated — is one visible event.
 */
import type { RegistryConfig } from "./config.js";
import { observationProblems } from "./observation.js";
import type {
  LiveWorkerState,
  RegistryInput,
  RegistryState,
  RegistryTransition,
  RegistryUpdate,
  ReportedWorkerState,
  Tombstone,
  WorkerId,
  WorkerObservation,
  WorkerRecord,
} from "./types.js";

export function emptyRegistry(): RegistryState {
  return { workers: new Map(), tombstones: new Map() };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The registry state a self-reported state maps to (leaving is handled as a removal). */
export function registryStateFor(reported: Exclude<ReportedWorkerState, "leaving">): LiveWorkerState {
  return reported === "starting" ? "joined" : reported;
}

/** Why `next` must not be applied after `prev` (a reordered report), or undefined. */
function reorderProblem(prev: WorkerObservation, next: WorkerObservation): string | undefined {
  if (prev.sequence === undefined || next.sequence === undefined) return undefined;
  if (prev.startedAtMs !== next.startedAtMs) return undefined; // a restarted process counts from 0 again
  if (next.sequence > prev.sequence) return undefined;
  return `report #${next.sequence} is not newer than #${prev.sequence} already applied (reordered or duplicate)`;
}

function applyTelemetry(state: RegistryState, o: WorkerObservation, nowMs: number): RegistryUpdate {
  const problems = observationProblems(o);
  if (problems.length > 0) return { state, transitions: [], rejected: { workerId: o.workerId, problems } };
  const id = o.workerId;
  const live = state.workers.get(id);
  const tomb = state.tombstones.get(id);
  const previous = live?.observation ?? tomb?.observation;
  const reordered = previous ? reorderProblem(previous, o) : undefined;
  if (reordered) return { state, transitions: [], rejected: { workerId: id, problems: [reordered] } };

  const transitions: RegistryTransition[] = [];
  const workers = new Map(state.workers);
  const tombstones = new Map(state.tombstones);

  if (o.state === "leaving") {
    // A leaving report for a worker we do not hold live changes nothing (repeats, or one we never saw).
    if (!live) return { state, transitions: [] };
    workers.delete(id);
    const reason = "worker announced leaving";
    tombstones.set(id, {
      workerId: id,
      state: "left",
      atMs: nowMs,
      lastSeenMs: nowMs,
      reason,
      observation: o,
    });
    transitions.push({ workerId: id, from: live.state, to: "left", reason, atMs: nowMs });
    return { state: { workers, tombstones }, transitions };
  }

  const target = registryStateFor(o.state);
  if (live) {
    const silence = Math.max(0, nowMs - live.lastSeenMs);
    const changed = live.state !== target;
    if (changed) {
      const reason =
        live.state === "suspect"
          ? `telemetry resumed after ${seconds(silence)} of silence; worker reports ${o.state}`
          : `worker reports ${o.state}`;
      transitions.push({ workerId: id, from: live.state, to: target, reason, atMs: nowMs });
    }
    workers.set(id, {
      ...live,
      state: target,
      reportedState: o.state,
      observation: o,
      lastSeenMs: nowMs,
      stateSinceMs: changed ? nowMs : live.stateSinceMs,
    });
    return { state: { workers, tombstones }, transitions };
  }

  const joinReason = tomb
    ? tomb.state === "dead"
      ? `telemetry ${seconds(Math.max(0, nowMs - tomb.atMs))} after it was declared dead; re-joined`
      : `telemetry ${seconds(Math.max(0, nowMs - tomb.atMs))} after it left; re-joined`
    : `first telemetry: ${o.model.name} on ${o.host || "unknown host"}`;
  transitions.push({
    workerId: id,
    from: tomb?.state ?? "absent",
    to: "joined",
    reason: joinReason,
    atMs: nowMs,
  });
  if (target !== "joined")
    transitions.push({
      workerId: id,
      from: "joined",
      to: target,
      reason: `worker reports ${o.state}`,
      atMs: nowMs,
    });
  tombstones.delete(id);
  workers.set(id, {
    workerId: id,
    state: target,
    reportedState: o.state,
    observation: o,
    joinedAtMs: nowMs,
    lastSeenMs: nowMs,
    stateSinceMs: nowMs,
  });
  return { state: { workers, tombstones }, transitions };
}

function byId<T extends { workerId: WorkerId }>(a: T, b: T): number {
  return a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0;
}

function applyTick(state: RegistryState, nowMs: number, config: RegistryConfig): RegistryUpdate {
  const transitions: RegistryTransition[] = [];
  let workers: Map<WorkerId, WorkerRecord> | undefined;
  let tombstones: Map<WorkerId, Tombstone> | undefined;
  const mutableWorkers = () => {
    workers ??= new Map(state.workers);
    return workers;
  };
  const mutableTombstones = () => {
    tombstones ??= new Map(state.tombstones);
    return tombstones;
  };

  // Sorted so that events come out in the same order whatever the map's insertion history.
  for (const rec of [...state.workers.values()].sort(byId)) {
    const silence = nowMs - rec.lastSeenMs;
    if (silence >= config.deadAfterMs) {
      const reason = `no telemetry for ${seconds(silence)} (dead after ${seconds(config.deadAfterMs)})`;
      mutableWorkers().delete(rec.workerId);
      mutableTombstones().set(rec.workerId, {
        workerId: rec.workerId,
        state: "dead",
        atMs: nowMs,
        lastSeenMs: rec.lastSeenMs,
        reason,
        observation: rec.observation,
      });
      transitions.push({ workerId: rec.workerId, from: rec.state, to: "dead", reason, atMs: nowMs });
    } else if (silence >= config.suspectAfterMs && rec.state !== "suspect") {
      const reason = `no telemetry for ${seconds(silence)} (suspect after ${seconds(config.suspectAfterMs)})`;
      mutableWorkers().set(rec.workerId, { ...rec, state: "suspect", stateSinceMs: nowMs });
      transitions.push({ workerId: rec.workerId, from: rec.state, to: "suspect", reason, atMs: nowMs });
    }
  }

  // Forget old tombstones (no event: the worker's removal was the event).
  const current = tombstones ?? state.tombstones;
  const expired = [...current.values()].filter((t) => nowMs - t.atMs >= config.tombstoneTtlMs);
  for (const t of expired) mutableTombstones().delete(t.workerId);
  const remaining = tombstones ?? state.tombstones;
  if (remaining.size > config.maxTombstones) {
    const oldestFirst = [...remaining.values()].sort((a, b) => a.atMs - b.atMs || byId(a, b));
    for (const t of oldestFirst.slice(0, remaining.size - config.maxTombstones))
      mutableTombstones().delete(t.workerId);
  }

  if (!workers && !tombstones) return { state, transitions };
  return {
    state: { workers: workers ?? state.workers, tombstones: tombstones ?? state.tombstones },
    transitions,
  };
}

/** Applies one input at `nowMs`. Never throws; an invalid report comes back as `rejected`. */
export function applyRegistryInput(
  state: RegistryState,
  input: RegistryInput,
  nowMs: number,
  config: RegistryConfig,
): RegistryUpdate {
  return input.kind === "telemetry"
    ? applyTelemetry(state, input.observation, nowMs)
    : applyTick(state, nowMs, config);
}
