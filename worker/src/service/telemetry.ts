/**
 * Builds the telemetry report from what the worker measures. Pure: the service gathers the inputs (probe,
 * backend, tracker) and this turns them into the wire message.
 */
import { create } from "@bufbuild/protobuf";
import {
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

export interface TelemetryInputs {
  workerId: string;
  host: string;
  version: string;
  state: WorkerState;
  model: ModelDescriptor;
  hardware: HardwareSnapshot | undefined;
  memory: BackendMemory;
  processRssBytes: number;
  throughput: ThroughputSnapshot;
  slots: SlotStats;
  requests: RequestCounts;
  sequence: number;
  nowMs: number;
  intervalMs: number;
  startedAtMs: number;
  labels: Record<string, string>;
}

const big = (n: number | undefined): bigint => BigInt(Math.max(0, Math.round(n ?? 0)));

export function buildTelemetry(i: TelemetryInputs): WorkerTelemetry {
  const hw = i.hardware;
  return create(WorkerTelemetrySchema, {
    workerId: i.workerId,
    host: i.host,
    version: i.version,
    state: i.state,
    model: i.model,
    gpus: (hw?.gpus ?? []).map((g) => ({
      index: g.index,
      name: g.name,
      vendor: g.vendor,
      vramTotalBytes: big(g.vramTotalBytes),
      vramUsedBytes: big(g.vramUsedBytes),
      vramFreeBytes: big(g.vramFreeBytes),
      ...(g.utilizationPercent !== undefined ? { utilizationPercent: g.utilizationPercent } : {}),
      ...(g.powerWatts !== undefined ? { powerWatts: g.powerWatts } : {}),
      ...(g.temperatureCelsius !== undefined ? { temperatureCelsius: g.temperatureCelsius } : {}),
    })),
    memory: {
      ramTotalBytes: big(hw?.ramTotalBytes),
      ramFreeBytes: big(hw?.ramFreeBytes),
      processRssBytes: big(i.processRssBytes),
      modelBytes: big(i.memory.modelBytes + i.memory.contextBytes),
      computeBackend: hw?.computeBackend ?? "cpu",
      cpuCores: hw?.cpuCores ?? 0,
      cpuLoad: hw?.cpuLoad ?? 0,
    },
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
