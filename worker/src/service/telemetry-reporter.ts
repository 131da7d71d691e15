/**
 * The worker's telemetry: a report on join, every interval, on every state change (coalesced to one report
 * per event-loop turn, see state-report.ts), on discovery and after a reconnect. Nothing slow runs on the
 * request path: process RSS, backend memory and the hardware probe are read at start and on the periodic
 * tick only, and state-change reports reuse those readings; each report re-encodes only what changed
 * (telemetry-encoding.ts).
 */
import type { Logger } from "pino";
import type { ModelDescriptor, WorkerState } from "../../../proto/gen/conclave/v1/telemetry_pb.js";
import { codecs } from "../../../proto/src/codecs.js";
import { type NatsConnection, publishEncoded } from "../../../proto/src/nats-io.js";
import { subjects } from "../../../proto/src/subjects.js";
import type { ModelBackend } from "../backends/types.js";
import type { HardwareSnapshot } from "../hardware-probe.js";
import type { ThroughputTracker } from "../throughput.js";
import {
  initialStateReportGate,
  observeState,
  reportSent,
  type StateReportGate,
  stateReportDue,
} from "./state-report.js";
import type { RequestCounts, TelemetryReadings } from "./telemetry.js";
import { createTelemetryEncoder } from "./telemetry-encoding.js";
import { reportedState, type WorkerPhase } from "./worker-state.js";

export interface TelemetryReporterOptions {
  nc: NatsConnection;
  backend: ModelBackend;
  workerId: string;
  host: string;
  version: string;
  /** The model as the wire describes it. */
  descriptor: ModelDescriptor;
  labels: Record<string, string>;
  throughput: ThroughputTracker;
  /** The service's request counters (read at each report). */
  counts: RequestCounts;
  /** The service's phase (serving, draining, leaving), read at each report. */
  phase: () => WorkerPhase;
  intervalMs: number;
  startedAtMs: number;
  probe?: () => Promise<HardwareSnapshot>;
  probeIntervalMs: number;
  now: () => number;
  rss: () => number;
  log: Logger;
}

export interface TelemetryReporter {
  /** The state a report would carry now. */
  currentState(): WorkerState;
  /** A report now. */
  publish(): void;
  /** The periodic report: the only place the slow readings are refreshed and the probe is started. */
  publishPeriodic(): void;
  /** Sends the state report if one is owed (else nothing: another report already carried the state). */
  settle(): void;
  /**
   * Notes the state after any change (slot taken or freed, request settled). The report itself goes out
   * at the end of this event-loop turn (setImmediate), once, with the state current by then, or earlier,
   * right behind a request's final frame (settle), so that both leave in one socket write.
   */
  onMaybeStateChange(state?: WorkerState): void;
  /** Runs the hardware probe once and waits for it (at start, before the first report). */
  probeNow(): Promise<void>;
}

export function createTelemetryReporter(o: TelemetryReporterOptions): TelemetryReporter {
  const { nc, backend, log, now } = o;
  const subject = subjects.telemetry(o.workerId);
  let sequence = 0;
  let gate: StateReportGate = initialStateReportGate;
  let reportScheduled = false;
  let hardware: HardwareSnapshot | undefined;
  let lastProbeAt = 0;
  let probing = false;

  /**
   * Readings that cost a syscall or a native call: taken on the periodic tick, reused in between. A new
   * object each time they change (the telemetry encoder re-encodes them only then).
   */
  const takeReadings = (): TelemetryReadings => ({
    hardware,
    memory: backend.memory(),
    processRssBytes: o.rss(),
  });
  let readings = takeReadings();
  const encode = createTelemetryEncoder({
    workerId: o.workerId,
    host: o.host,
    version: o.version,
    model: o.descriptor,
    intervalMs: o.intervalMs,
    startedAtMs: o.startedAtMs,
    labels: o.labels,
  });

  const refreshHardware = (): void => {
    if (!o.probe || probing || now() - lastProbeAt < o.probeIntervalMs) return;
    probing = true;
    lastProbeAt = now();
    o.probe()
      .then((snapshot) => {
        hardware = snapshot;
        readings = { ...readings, hardware };
      })
      .catch((err: unknown) => log.warn({ err }, "hardware probe failed"))
      .finally(() => {
        probing = false;
      });
  };

  const currentState = (): WorkerState => reportedState(o.phase(), backend.slotStats());

  const publish = (): void => {
    if (nc.isClosed()) return;
    const slots = backend.slotStats();
    const state = reportedState(o.phase(), slots);
    gate = reportSent(state);
    sequence += 1;
    try {
      const report = encode(readings, {
        state,
        throughput: o.throughput.snapshot(),
        slots,
        requests: o.counts,
        sequence,
        nowMs: now(),
      });
      publishEncoded(nc, subject, codecs.telemetry.typeName, report);
    } catch (err) {
      log.warn({ err }, "telemetry publish failed");
    }
  };

  const settle = (): void => {
    if (stateReportDue(gate)) publish();
  };

  const flushStateReport = (): void => {
    reportScheduled = false;
    settle();
  };

  return {
    currentState,
    publish,
    publishPeriodic() {
      refreshHardware();
      readings = takeReadings();
      publish();
    },
    settle,
    onMaybeStateChange(state = currentState()) {
      const next = observeState(gate, state);
      gate = next.gate;
      if (next.schedule && !reportScheduled) {
        reportScheduled = true;
        setImmediate(flushStateReport);
      }
    },
    async probeNow() {
      if (!o.probe) return;
      try {
        hardware = await o.probe();
        readings = { ...readings, hardware };
        lastProbeAt = now();
      } catch (err) {
        log.warn({ err }, "hardware probe failed");
      }
    },
  };
}
