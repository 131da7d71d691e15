/**
 * The coordinator's live worker registry: domain types. Everything here is plain data built from
 * telemetry (proto WorkerTelemetry); the transition logic is in apply.ts.
 */
import type { WorkerId } from "../../../proto/src/ids.js";

export type { WorkerId };

/** A worker's own report of its lifecycle (proto WorkerState). */
export const REPORTED_STATES = ["starting", "ready", "busy", "draining", "leaving"] as const;
export type ReportedWorkerState = (typeof REPORTED_STATES)[number];

/**
 * The registry's view. Live: `joined` (reported starting), `ready`, `busy`, `draining`, `suspect` (missed
 * heartbeats). Gone (removed from the live set, remembered as a tombstone): `dead` (silent too long), `left`
 * (announced leaving).
 */
export type LiveWorkerState = "joined" | "ready" | "busy" | "suspect" | "draining";
export type GoneWorkerState = "dead" | "left";
export type WorkerLifecycleState = LiveWorkerState | GoneWorkerState;

/** What a worker hosts (proto ModelDescriptor, the fields the coordinator decides with). */
export interface ModelInfo {
  name: string;
  family: string;
  architecture: string;
  /** 0 = unknown. */
  parameterCount: number;
  quantization: string;
  contextLength?: number;
  /** Whether the backend returns log-probabilities (likelihood evaluation). */
  supportsScoring?: boolean;
}

/** One telemetry report, flattened. Numbers are as measured by the worker. */
export interface WorkerObservation {
  workerId: WorkerId;
  host: string;
  version?: string;
  state: ReportedWorkerState;
  model: ModelInfo;
  slotsTotal: number;
  slotsActive: number;
  slotsQueued: number;
  /** EWMA over real requests, seeded by the self-benchmark (0 = not measured yet). */
  generationTokensPerSecond: number;
  prefillTokensPerSecond: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
  /** Sum of the worker's GPUs' power draw, when known. */
  powerWatts?: number;
  vramTotalBytes?: number;
  vramUsedBytes?: number;
  /** Failed requests since the worker started. */
  errorCount: number;
  /** Completed requests since the worker started, when known. */
  requestCount?: number;
  /** Per-process monotonic sequence; with `startedAtMs` lets the registry drop reordered reports. */
  sequence?: number;
  /** Sender's process start time; a new value means a restarted process (sequence starts over). */
  startedAtMs?: number;
}

/** A live worker. */
export interface WorkerRecord {
  workerId: WorkerId;
  state: LiveWorkerState;
  /** The last self-reported state (what a suspect worker was doing before it went quiet). */
  reportedState: ReportedWorkerState;
  observation: WorkerObservation;
  /** When it (last) joined. */
  joinedAtMs: number;
  lastSeenMs: number;
  stateSinceMs: number;
}

/** A removed worker, remembered so a late report re-joins it with an event (and for `list --all`). */
export interface Tombstone {
  workerId: WorkerId;
  state: GoneWorkerState;
  atMs: number;
  lastSeenMs: number;
  reason: string;
  observation: WorkerObservation;
}

export interface RegistryState {
  workers: ReadonlyMap<WorkerId, WorkerRecord>;
  tombstones: ReadonlyMap<WorkerId, Tombstone>;
}

/** Every change of a worker's registry state. `from: "absent"` = first time this registry sees it. */
export interface RegistryTransition {
  workerId: WorkerId;
  from: WorkerLifecycleState | "absent";
  to: WorkerLifecycleState;
  reason: string;
  atMs: number;
}

export type RegistryInput =
  | { kind: "telemetry"; observation: WorkerObservation }
  /** Time passed: checks silences (suspect / dead) and forgets old tombstones. */
  | { kind: "tick" };

export interface RegistryUpdate {
  state: RegistryState;
  transitions: RegistryTransition[];
  /** Set when a telemetry input was not applied (invalid or reordered); the state is then unchanged. */
  rejected?: { workerId: string; problems: string[] };
}
