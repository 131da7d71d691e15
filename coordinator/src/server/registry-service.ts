/**
 * The registry's NATS shell: telemetry in, pure transitions applied (registry/apply.ts), transitions out.
 * On start it asks every worker to announce itself at once (discovery), so a coordinator that starts after
 * its workers knows them all within one round trip instead of one telemetry interval.
 */
import { EventEmitter } from "node:events";
import { create } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import {
  RegistryState as WireRegistryState,
  type WorkerStatus,
  WorkerStatusSchema,
} from "../../../proto/gen/conclave/v1/coordinator_pb.js";
import { WorkerState, type WorkerTelemetry } from "../../../proto/gen/conclave/v1/telemetry_pb.js";
import { codecs } from "../../../proto/src/codecs.js";
import type { WorkerId } from "../../../proto/src/ids.js";
import { type NatsConnection, type Subscription, subscribeTyped } from "../../../proto/src/nats-io.js";
import { subjects } from "../../../proto/src/subjects.js";
import { createWorkerClient } from "../../../proto/src/worker-client.js";
import {
  applyRegistryInput,
  emptyRegistry,
  goneWorkers,
  liveWorkers,
  type RegistryConfig,
  type RegistryState,
  type RegistryTransition,
  type ReportedWorkerState,
  type WorkerLifecycleState,
  type WorkerObservation,
} from "../registry/index.js";

const REPORTED: Record<number, ReportedWorkerState | undefined> = {
  [WorkerState.STARTING]: "starting",
  [WorkerState.READY]: "ready",
  [WorkerState.BUSY]: "busy",
  [WorkerState.DRAINING]: "draining",
  [WorkerState.LEAVING]: "leaving",
};

const WIRE_STATE: Record<WorkerLifecycleState, WireRegistryState> = {
  joined: WireRegistryState.JOINED,
  ready: WireRegistryState.READY,
  busy: WireRegistryState.BUSY,
  suspect: WireRegistryState.SUSPECT,
  dead: WireRegistryState.DEAD,
  draining: WireRegistryState.DRAINING,
  left: WireRegistryState.LEFT,
};

export function toWireRegistryState(s: WorkerLifecycleState | "absent"): WireRegistryState {
  return s === "absent" ? WireRegistryState.UNSPECIFIED : WIRE_STATE[s];
}

/** Flattens a telemetry report into what the registry and broker decide with. Pure. */
export function observationFromTelemetry(t: WorkerTelemetry): WorkerObservation | undefined {
  const state = REPORTED[t.state];
  if (!state || !t.model) return undefined;
  const power = t.gpus.reduce((sum, g) => sum + (g.powerWatts ?? 0), 0);
  const vramTotal = t.gpus.reduce((sum, g) => sum + Number(g.vramTotalBytes), 0);
  const vramUsed = t.gpus.reduce((sum, g) => sum + Number(g.vramUsedBytes), 0);
  return {
    workerId: t.workerId as WorkerId,
    host: t.host,
    version: t.version,
    state,
    model: {
      name: t.model.name,
      family: t.model.family,
      architecture: t.model.architecture,
      parameterCount: Number(t.model.parameterCount),
      quantization: t.model.quantization,
      contextLength: t.model.contextLength,
      supportsScoring: t.model.supportsScoring,
    },
    slotsTotal: t.slots?.total ?? 0,
    slotsActive: t.slots?.active ?? 0,
    slotsQueued: t.slots?.queued ?? 0,
    generationTokensPerSecond: t.throughput?.generationTokensPerSecond ?? 0,
    prefillTokensPerSecond: t.throughput?.prefillTokensPerSecond ?? 0,
    latencyP50Ms: t.throughput?.latencyP50Ms ?? 0,
    latencyP95Ms: t.throughput?.latencyP95Ms ?? 0,
    ...(power > 0 ? { powerWatts: power } : {}),
    ...(vramTotal > 0 ? { vramTotalBytes: vramTotal, vramUsedBytes: vramUsed } : {}),
    errorCount: Number(t.requests?.failed ?? 0n),
    requestCount: Number(t.requests?.completed ?? 0n),
    sequence: Number(t.sequence),
    startedAtMs: Number(t.startedAtUnixMs),
  };
}

export interface RegistryServiceOptions {
  nc: NatsConnection;
  config: RegistryConfig;
  log: Logger;
  /** How often silences are checked. @default 500 */
  tickMs?: number;
  now?: () => number;
  /** Success ratio of the requests the coordinator sent to a worker (from job outcomes). */
  reliability?: (workerId: string) => number;
}

export interface RegistryEvents {
  transition: [RegistryTransition];
  /** Emitted after every applied report (live numbers changed). */
  telemetry: [WorkerTelemetry];
}

export class RegistryService extends EventEmitter<RegistryEvents> {
  #state: RegistryState = emptyRegistry();
  readonly #telemetry = new Map<string, WorkerTelemetry>();
  readonly #options: RegistryServiceOptions;
  readonly #now: () => number;
  #sub: Subscription | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: RegistryServiceOptions) {
    super();
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get state(): RegistryState {
    return this.#state;
  }

  start(): void {
    const { nc, log } = this.#options;
    this.#sub = subscribeTyped(nc, subjects.telemetryAll(), codecs.telemetry, {
      onMessage: (t) => this.observe(t),
      onError: (err, msg) =>
        log.warn(
          { err: { code: err.codeName, message: err.message }, subject: msg.subject },
          "bad telemetry",
        ),
    });
    this.#timer = setInterval(() => this.tick(), this.#options.tickMs ?? 500);
    this.discover();
  }

  /** Asks every worker to report now. */
  discover(): void {
    try {
      createWorkerClient(this.#options.nc).discover("coordinator");
    } catch (err) {
      this.#options.log.warn({ err }, "discovery request failed");
    }
  }

  observe(t: WorkerTelemetry): void {
    const observation = observationFromTelemetry(t);
    if (!observation) {
      this.#options.log.warn({ workerId: t.workerId }, "telemetry without a state or model ignored");
      return;
    }
    const update = applyRegistryInput(
      this.#state,
      { kind: "telemetry", observation },
      this.#now(),
      this.#options.config,
    );
    if (update.rejected) {
      this.#options.log.debug({ rejected: update.rejected }, "telemetry not applied");
      return;
    }
    this.#state = update.state;
    this.#telemetry.set(t.workerId, t);
    for (const tr of update.transitions) this.#emitTransition(tr);
    this.emit("telemetry", t);
  }

  tick(): void {
    const update = applyRegistryInput(this.#state, { kind: "tick" }, this.#now(), this.#options.config);
    this.#state = update.state;
    for (const tr of update.transitions) this.#emitTransition(tr);
  }

  #emitTransition(tr: RegistryTransition): void {
    // A worker flips between ready and busy on every request; only the other transitions are news.
    const routine = isLoadFlip(tr);
    this.#options.log[routine ? "debug" : "info"](
      { workerId: tr.workerId, from: tr.from, to: tr.to, reason: tr.reason },
      "worker state",
    );
    this.emit("transition", tr);
  }

  /** Worker statuses for the API: live ones, then (optionally) remembered gone ones. */
  list(includeGone: boolean): WorkerStatus[] {
    const rel = this.#options.reliability ?? (() => 1);
    const live = liveWorkers(this.#state).map((r) =>
      create(WorkerStatusSchema, {
        ...(this.#telemetry.get(r.workerId) ? { telemetry: this.#telemetry.get(r.workerId) } : {}),
        state: WIRE_STATE[r.state],
        lastSeenUnixMs: BigInt(Math.round(r.lastSeenMs)),
        joinedAtUnixMs: BigInt(Math.round(r.joinedAtMs)),
        reliability: rel(r.workerId),
      }),
    );
    if (!includeGone) return live;
    const gone = goneWorkers(this.#state).map((g) =>
      create(WorkerStatusSchema, {
        ...(this.#telemetry.get(g.workerId) ? { telemetry: this.#telemetry.get(g.workerId) } : {}),
        state: WIRE_STATE[g.state],
        lastSeenUnixMs: BigInt(Math.round(g.lastSeenMs)),
        reliability: rel(g.workerId),
      }),
    );
    return [...live, ...gone];
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#sub?.unsubscribe();
  }
}

/** A ready ↔ busy transition: routine load, not a change in the pool. Pure. */
export function isLoadFlip(tr: Pick<RegistryTransition, "from" | "to">): boolean {
  const load = (s: RegistryTransition["from"]) => s === "ready" || s === "busy";
  return load(tr.from) && load(tr.to);
}
