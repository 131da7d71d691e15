/**
 * Builds the telemetry report from what the worker measures. Pure: the service gathers the inputs (probe,
 * backend, tracker) and this turns them into the wire message. The service sends it through the encoder in
 * telemetry-encoding.ts, which writes the same bytes without rebuilding the parts that did not change.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type GpuInfoSchema,
  type HostMemorySchema,
  type ModelDescriptor,
  type WorkerState,
  type WorkerTelemetry,
  WorkerTelemetrySchema,
} from "../../../proto/gen/conclave/v1/telemetry_pb.js";
import type { BackendMemory, SlotStats } from "../backends/types.js";
import type { HardwareSnapshot } from "../hardware-probe.js";
import type { ThroughputSnapshot } from "../throughput.js";

export interface RequestCounts {
  completed: number;
  failed: number;
  cancelled: number;
  rejectedBusy: number;
  lastError: string;
}

/** What stays the same for the life of the service. */
export interface TelemetryIdentity {
  workerId: string;
  host: string;
  version: string;
  model: ModelDescriptor;
  intervalMs: number;
  startedAtMs: number;
  labels: Record<string, string>;
}

/** The slow readings, refreshed on the periodic tick only (the service reuses them in between). */
export interface TelemetryReadings {
  hardware: HardwareSnapshot | undefined;
  memory: BackendMemory;
  processRssBytes: number;
}

/** What may change from one report to the next. */
export interface TelemetryLive {
  state: WorkerState;
  throughput: ThroughputSnapshot;
  slots: SlotStats;
  requests: RequestCounts;
  sequence: number;
  nowMs: number;
}

export type TelemetryInputs = TelemetryIdentity & TelemetryReadings & TelemetryLive;

/** A non-negative count or byte figure as the wire's 64-bit integer. */
const big = (n: number | undefined): bigint => BigInt(Math.max(0, Math.round(n ?? 0)));

export function gpusOf(hw: HardwareSnapshot | undefined): MessageInitShape<typeof GpuInfoSchema>[] {
  return (hw?.gpus ?? []).map((g) => ({
    index: g.index,
    name: g.name,
    vendor: g.vendor,
    vramTotalBytes: big(g.vramTotalBytes),
    vramUsedBytes: big(g.vramUsedBytes),
    vramFreeBytes: big(g.vramFreeBytes),
    ...(g.utilizationPercent !== undefined ? { utilizationPercent: g.utilizationPercent } : {}),
    ...(g.powerWatts !== undefined ? { powerWatts: g.powerWatts } : {}),
    ...(g.temperatureCelsius !== undefined ? { temperatureCelsius: g.temperatureCelsius } : {}),
  }));
}

export function memoryOf(r: TelemetryReadings): MessageInitShape<typeof HostMemorySchema> {
  const hw = r.hardware;
  return {
    ramTotalBytes: big(hw?.ramTotalBytes),
    ramFreeBytes: big(hw?.ramFreeBytes),
    processRssBytes: big(r.processRssBytes),
    modelBytes: big(r.memory.modelBytes + r.memory.contextBytes),
    computeBackend: hw?.computeBackend ?? "cpu",
    cpuCores: hw?.cpuCores ?? 0,
    cpuLoad: hw?.cpuLoad ?? 0,
  };
}

/** The report as a message: the definition of what a report says, and what the encoder's bytes decode to. */
export function buildTelemetry(i: TelemetryInputs): WorkerTelemetry {
  return create(WorkerTelemetrySchema, {
    workerId: i.workerId,
    host: i.host,
    version: i.version,
    state: i.state,
    model: i.model,
    gpus: gpusOf(i.hardware),
    memory: memoryOf(i),
    throughput: {
      prefillTokensPerSecond: i.throughput.prefillTokensPerSecond ?? 0,
      generationTokensPerSecond: i.throughput.generationTokensPerSecond ?? 0,
      latencyP50Ms: i.throughput.latencyP50Ms ?? 0,
      latencyP95Ms: i.throughput.latencyP95Ms ?? 0,
      samples: BigInt(i.throughput.samples),
    },
    slots: {
      total: i.slots.total,
      active: i.slots.active,
      queued: i.slots.queued,
      queueLimit: i.slots.queueLimit,
    },
    requests: {
      completed: big(i.requests.completed),
      failed: big(i.requests.failed),
      cancelled: big(i.requests.cancelled),
      rejectedBusy: big(i.requests.rejectedBusy),
      lastError: i.requests.lastError,
    },
    sentAtUnixMs: BigInt(Math.round(i.nowMs)),
    sequence: BigInt(i.sequence),
    intervalMs: i.intervalMs,
    startedAtUnixMs: BigInt(Math.round(i.startedAtMs)),
    labels: i.labels,
  });
}

/** Parses `key=value` labels; a bare word becomes `key=""`. */
export function parseLabels(items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq < 0) out[item.trim()] = "";
    else out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return out;
}
