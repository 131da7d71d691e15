/**
 * Realistic home-lab pools for the broker benchmark, as the coordinator sees them: worker telemetry of
 * popular open models (Q4 quantisations on consumer GPUs, their usual token rates, 1–4 slots, power when
 * the GPU reports it). The same telemetry feeds the pure solve benchmark (through the registry and the
 * profiles, as the product does) and the join benchmark (published on NATS). Deterministic in the seed.
 */

import { create } from "@bufbuild/protobuf";
import { type BrokerWorker, brokerWorkersFromRegistry } from "../../../coordinator/src/broker/index.js";
import { seededRandom } from "../../../coordinator/src/deliberation/random.js";
import { DEFAULT_PROFILES } from "../../../coordinator/src/profiles/index.js";
import {
  applyRegistryInput,
  emptyRegistry,
  type RegistryState,
  resolveRegistryConfig,
} from "../../../coordinator/src/registry/index.js";
import { observationFromTelemetry } from "../../../coordinator/src/server/registry-service.js";
import {
  WorkerState,
  type WorkerTelemetry,
  WorkerTelemetrySchema,
} from "../../../proto/gen/conclave/v1/telemetry_pb.js";

interface CatalogModel {
  name: string;
  family: string;
  params: number;
  /** Generation tokens/s range on the GPUs such a model usually runs on. */
  gen: [number, number];
}

const CATALOG: readonly CatalogModel[] = [
  { name: "Qwen2.5-7B-Instruct-Q4_K_M", family: "qwen2", params: 7.6e9, gen: [30, 95] },
  { name: "Qwen2.5-14B-Instruct-Q4_K_M", family: "qwen2", params: 14.8e9, gen: [15, 50] },
  { name: "Qwen2.5-Coder-7B-Instruct-Q4_K_M", family: "qwen2", params: 7.6e9, gen: [30, 95] },
  { name: "Qwen2.5-Math-7B-Instruct-Q4_K_M", family: "qwen2", params: 7.6e9, gen: [30, 95] },
  { name: "Qwen3-8B-Q4_K_M", family: "qwen3", params: 8.2e9, gen: [28, 90] },
  { name: "Qwen3-30B-A3B-Q4_K_M", family: "qwen3moe", params: 30.5e9, gen: [35, 110] },
  { name: "Llama-3.1-8B-Instruct-Q4_K_M", family: "llama", params: 8.0e9, gen: [28, 90] },
  { name: "Llama-3.2-3B-Instruct-Q4_K_M", family: "llama", params: 3.2e9, gen: [60, 160] },
  { name: "gemma-2-9b-it-Q4_K_M", family: "gemma2", params: 9.2e9, gen: [25, 80] },
  { name: "gemma-3-12b-it-Q4_K_M", family: "gemma3", params: 12.2e9, gen: [18, 60] },
  { name: "gemma-3-4b-it-Q4_K_M", family: "gemma3", params: 3.9e9, gen: [50, 140] },
  { name: "Mistral-7B-Instruct-v0.3-Q4_K_M", family: "llama", params: 7.2e9, gen: [30, 95] },
  { name: "Mistral-Small-24B-Instruct-Q4_K_M", family: "llama", params: 23.6e9, gen: [8, 28] },
  { name: "Phi-3.5-mini-instruct-Q4_K_M", family: "phi3", params: 3.8e9, gen: [55, 150] },
  { name: "phi-4-Q4_K_M", family: "phi3", params: 14.7e9, gen: [15, 48] },
  { name: "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M", family: "qwen2", params: 7.6e9, gen: [30, 95] },
  { name: "gpt-oss-20b-MXFP4", family: "gpt-oss", params: 20.9e9, gen: [40, 130] },
];

/** The strong model that joins in the re-plan benchmark (never in the base pools, so it always wins a seat). */
const JOINER: CatalogModel = {
  name: "gpt-oss-120b-MXFP4",
  family: "gpt-oss",
  params: 116.8e9,
  gen: [60, 60],
};

function telemetryOf(
  id: string,
  m: CatalogModel,
  r: () => number,
  o: { sequence: number; state: WorkerState; nowMs: number },
): WorkerTelemetry {
  const gen = m.gen[0] + r() * (m.gen[1] - m.gen[0]);
  const slots = 1 + Math.floor(r() * 4);
  const vram = (8 + Math.floor(r() * 4) * 8) * 1024 ** 3;
  const power = r() < 0.8 ? 80 + r() * 270 : undefined;
  return create(WorkerTelemetrySchema, {
    workerId: id,
    host: `host-${id}`,
    version: "bench",
    state: o.state,
    model: {
      name: m.name,
      family: m.family,
      architecture: m.family,
      parameterCount: BigInt(Math.round(m.params)),
      quantization: m.name.split("-").at(-1) ?? "Q4_K_M",
      contextLength: 8192,
      trainContextLength: 32768,
      hasChatTemplate: true,
    },
    gpus: [
      {
        index: 0,
        name: "GeForce RTX",
        vendor: "nvidia",
        vramTotalBytes: BigInt(vram),
        vramUsedBytes: BigInt(Math.round(vram * 0.7)),
        vramFreeBytes: BigInt(Math.round(vram * 0.3)),
        ...(power !== undefined ? { powerWatts: power } : {}),
      },
    ],
    memory: { computeBackend: "cuda", cpuCores: 8 },
    throughput: {
      prefillTokensPerSecond: gen * (15 + r() * 25),
      generationTokensPerSecond: gen,
      samples: 10n,
    },
    slots: { total: slots, active: 0, queued: 0, queueLimit: slots * 4 },
    requests: {},
    sentAtUnixMs: BigInt(Math.round(o.nowMs)),
    sequence: BigInt(o.sequence),
    intervalMs: 2000,
    startedAtUnixMs: BigInt(Math.round(o.nowMs - 60_000)),
  });
}

/** `n` ready workers `${prefix}-00`… with models drawn from the catalog. */
export function poolTelemetry(seed: number, n: number, nowMs: number, prefix = "w"): WorkerTelemetry[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => {
    const m = CATALOG[Math.floor(r() * CATALOG.length)] ?? (CATALOG[0] as CatalogModel);
    return telemetryOf(`${prefix}-${String(i).padStart(2, "0")}`, m, r, {
      sequence: 1,
      state: WorkerState.READY,
      nowMs,
    });
  });
}

/** The joining worker's report: its first (ready) or its last (leaving). */
export function joinerTelemetry(id: string, nowMs: number, leaving = false): WorkerTelemetry {
  return telemetryOf(id, JOINER, seededRandom(42), {
    sequence: leaving ? 2 : 1,
    state: leaving ? WorkerState.LEAVING : WorkerState.READY,
    nowMs,
  });
}

/** The registry state after these reports. Pure. */
export function registryOf(reports: readonly WorkerTelemetry[], nowMs: number): RegistryState {
  const config = resolveRegistryConfig();
  let state = emptyRegistry();
  for (const t of reports) {
    const observation = observationFromTelemetry(t);
    if (observation)
      state = applyRegistryInput(state, { kind: "telemetry", observation }, nowMs, config).state;
  }
  return state;
}

/** The broker's view of a random pool, built as the coordinator builds it (registry + default profiles). */
export function brokerPool(seed: number, n: number, nowMs: number): BrokerWorker[] {
  return brokerWorkersFromRegistry(registryOf(poolTelemetry(seed, n, nowMs), nowMs), {
    profiles: DEFAULT_PROFILES,
    nowMs,
  }).map((w) => w.worker);
}
