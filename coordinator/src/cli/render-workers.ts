/** `conclave workers` output: a table for people, stable JSON objects for programs. Pure. */
import type { WorkerStatus } from "../../../proto/gen/conclave/v1/coordinator_pb.js";
import { registryStateNames } from "../../../proto/src/names.js";
import { formatAge, formatBytes, formatParams, oneLine, renderTable } from "./format.js";

/** The JSON shape of one worker (documented in README; keep field names stable). */
export interface WorkerJson {
  id: string;
  host: string;
  state: string;
  lastSeen: string;
  lastSeenAgoMs: number;
  model: {
    name: string;
    family: string;
    architecture: string;
    parameters: number;
    quantization: string;
    contextLength: number;
    backend: string;
  };
  throughput: {
    generationTokensPerSecond: number;
    prefillTokensPerSecond: number;
    latencyP50Ms: number;
    latencyP95Ms: number;
    samples: number;
  };
  slots: { total: number; active: number; queued: number };
  gpus: Array<{ name: string; vramTotalBytes: number; vramUsedBytes: number; powerWatts?: number }>;
  memory: { ramTotalBytes: number; ramFreeBytes: number; processRssBytes: number; computeBackend: string };
  reliability: number;
  labels: Record<string, string>;
}

const BACKENDS = ["unspecified", "llama", "openai", "scripted"];

export function workerToJson(w: WorkerStatus, nowMs: number): WorkerJson {
  const t = w.telemetry;
  const m = t?.model;
  const lastSeen = Number(w.lastSeenUnixMs);
  return {
    id: t?.workerId ?? "",
    host: t?.host ?? "",
    state: registryStateNames.name(w.state),
    lastSeen: new Date(lastSeen).toISOString(),
    lastSeenAgoMs: Math.max(0, nowMs - lastSeen),
    model: {
      name: m?.name ?? "",
      family: m?.family ?? "",
      architecture: m?.architecture ?? "",
      parameters: Number(m?.parameterCount ?? 0n),
      quantization: m?.quantization ?? "",
      contextLength: m?.contextLength ?? 0,
      backend: BACKENDS[m?.backend ?? 0] ?? "unspecified",
    },
    throughput: {
      generationTokensPerSecond: t?.throughput?.generationTokensPerSecond ?? 0,
      prefillTokensPerSecond: t?.throughput?.prefillTokensPerSecond ?? 0,
      latencyP50Ms: t?.throughput?.latencyP50Ms ?? 0,
      latencyP95Ms: t?.throughput?.latencyP95Ms ?? 0,
      samples: Number(t?.throughput?.samples ?? 0n),
    },
    slots: { total: t?.slots?.total ?? 0, active: t?.slots?.active ?? 0, queued: t?.slots?.queued ?? 0 },
    gpus: (t?.gpus ?? []).map((g) => ({
      name: g.name,
      vramTotalBytes: Number(g.vramTotalBytes),
      vramUsedBytes: Number(g.vramUsedBytes),
      ...(g.powerWatts !== undefined ? { powerWatts: g.powerWatts } : {}),
    })),
    memory: {
      ramTotalBytes: Number(t?.memory?.ramTotalBytes ?? 0n),
      ramFreeBytes: Number(t?.memory?.ramFreeBytes ?? 0n),
      processRssBytes: Number(t?.memory?.processRssBytes ?? 0n),
      computeBackend: t?.memory?.computeBackend ?? "",
    },
    reliability: w.reliability,
    labels: { ...(t?.labels ?? {}) },
  };
}

export function renderWorkersTable(workers: readonly WorkerStatus[], nowMs: number): string {
  if (workers.length === 0) {
    return "No workers yet. Start one with: conclave worker --model <file.gguf> --nats <url>";
  }
  const rows = workers.map((w) => {
    const j = workerToJson(w, nowMs);
    const gpu =
      j.gpus.length === 0
        ? `cpu (${j.memory.computeBackend || "cpu"})`
        : j.gpus.map((g) => g.name.replace(/^NVIDIA (GeForce )?/, "")).join("+");
    const vramUsed = j.gpus.reduce((n, g) => n + g.vramUsedBytes, 0);
    const vramTotal = j.gpus.reduce((n, g) => n + g.vramTotalBytes, 0);
    const vram = vramTotal > 0 ? `${formatBytes(vramUsed)}/${formatBytes(vramTotal)}` : "—";
    const tps = j.throughput.generationTokensPerSecond;
    return [
      j.id,
      j.host,
      oneLine(gpu, 24),
      vram,
      oneLine(`${j.model.name} (${formatParams(j.model.parameters)})`, 32),
      j.model.quantization || "?",
      tps > 0 ? tps.toFixed(tps >= 100 ? 0 : 1) : "—",
      `${j.slots.active}/${j.slots.total}${j.slots.queued > 0 ? ` +${j.slots.queued}q` : ""}`,
      j.state,
      formatAge(Number(w.lastSeenUnixMs), nowMs),
    ];
  });
  return renderTable(
    ["ID", "HOST", "GPU", "VRAM", "MODEL", "QUANT", "GEN TOK/S", "SLOTS", "STATE", "LAST SEEN"],
    rows,
  );
}
