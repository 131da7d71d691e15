import { fromBinary, isFieldSet } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  GpuInfoSchema,
  HostMemorySchema,
  RequestCountersSchema,
  SlotStatsSchema,
  ThroughputSchema,
  WorkerState,
  WorkerTelemetrySchema,
} from "../../../proto/gen/conclave/v1/telemetry_pb.js";
import { codecs } from "../../../proto/src/codecs.js";
import type { GpuInfo, HardwareSnapshot } from "../../../worker/src/hardware-probe.js";
import {
  buildTelemetry,
  type TelemetryIdentity,
  type TelemetryLive,
  type TelemetryReadings,
} from "../../../worker/src/service/telemetry.js";
import { createTelemetryEncoder } from "../../../worker/src/service/telemetry-encoding.js";
import { toWireDescriptor } from "../../../worker/src/service/wire-mapping.js";

const uint32 = fc.integer({ min: 0, max: 0xffff_ffff });
const count = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
/** Byte figures as the probes report them: not always whole numbers. */
const bytes = fc.double({ min: 0, max: 2 ** 50, noNaN: true });
const unixMs = fc.double({ min: 0, max: 2 ** 43, noNaN: true });
const rate = fc.option(fc.double(), { nil: undefined });

const descriptor = fc
  .record({
    name: fc.string({ minLength: 1 }),
    family: fc.string(),
    parameterCount: count,
    contextLength: uint32,
    fileSizeBytes: bytes,
    hasChatTemplate: fc.boolean(),
  })
  .map((d) =>
    toWireDescriptor({
      ...d,
      architecture: "llama",
      quantization: "Q4_K_M",
      trainContextLength: d.contextLength,
      source: "/models/m.gguf",
      backend: "llama",
      supportsScoring: true,
    }),
  );

const identity: fc.Arbitrary<TelemetryIdentity> = fc.record({
  workerId: fc.string(),
  host: fc.string(),
  version: fc.string(),
  model: descriptor,
  intervalMs: uint32,
  startedAtMs: unixMs,
  labels: fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
});

const gpu: fc.Arbitrary<GpuInfo> = fc.record(
  {
    index: fc.nat({ max: 16 }),
    name: fc.string(),
    vendor: fc.constantFrom("nvidia", "amd", "apple", "intel", "unknown" as const),
    vramTotalBytes: bytes,
    vramUsedBytes: bytes,
    vramFreeBytes: bytes,
    utilizationPercent: fc.float(),
    powerWatts: fc.float(),
    temperatureCelsius: fc.float(),
    source: fc.constantFrom("nvidia-smi", "node-llama-cpp" as const),
  },
  { requiredKeys: ["index", "name", "vendor", "source"] },
);

const hardware: fc.Arbitrary<HardwareSnapshot> = fc.record({
  gpus: fc.array(gpu, { maxLength: 3 }),
  computeBackend: fc.constantFrom("cuda", "vulkan", "metal", "cpu"),
  ramTotalBytes: bytes,
  ramFreeBytes: bytes,
  vramTotalBytes: bytes,
  vramFreeBytes: bytes,
  cpuModel: fc.string(),
  cpuCores: fc.nat({ max: 256 }),
  cpuLoad: fc.float(),
});

const readings: fc.Arbitrary<TelemetryReadings> = fc.record({
  hardware: fc.option(hardware, { nil: undefined }),
  memory: fc.record({ modelBytes: bytes, contextBytes: bytes, vramBytes: bytes, gpuLayers: fc.nat() }),
  processRssBytes: bytes,
});

const throughput = fc.record({
  prefillTokensPerSecond: rate,
  generationTokensPerSecond: rate,
  latencyP50Ms: rate,
  latencyP95Ms: rate,
  samples: count,
});

const live: fc.Arbitrary<TelemetryLive> = fc.record({
  state: fc.constantFrom(
    WorkerState.STARTING,
    WorkerState.READY,
    WorkerState.BUSY,
    WorkerState.DRAINING,
    WorkerState.LEAVING,
  ),
  throughput,
  slots: fc.record({ total: uint32, active: uint32, queued: uint32, queueLimit: uint32 }),
  requests: fc.record({
    completed: count,
    failed: count,
    cancelled: count,
    rejectedBusy: count,
    lastError: fc.string(),
  }),
  sequence: count,
  nowMs: unixMs,
});

/** The generic path: build the message, encode it with protobuf-es. */
const reference = (id: TelemetryIdentity, r: TelemetryReadings, l: TelemetryLive) =>
  codecs.telemetry.encode(buildTelemetry({ ...id, ...r, ...l }));

describe("createTelemetryEncoder", () => {
  it("writes exactly the bytes of the generic encoder", () => {
    fc.assert(
      fc.property(identity, readings, live, (id, r, l) => {
        expect(createTelemetryEncoder(id)(r, l)).toEqual(reference(id, r, l));
      }),
    );
  });

  it("stays exact over a worker's life: new readings, new throughput, every report's live fields", () => {
    // Each step is one report; a step may bring new readings (the periodic tick) or a new throughput
    // snapshot (a finished request). The encoder keeps what did not change as bytes.
    const step = fc.record({
      readings: fc.option(readings, { nil: undefined }),
      live,
      newThroughput: fc.boolean(),
    });
    fc.assert(
      fc.property(
        identity,
        readings,
        throughput,
        fc.array(step, { minLength: 1, maxLength: 8 }),
        (id, r0, t0, steps) => {
          const encode = createTelemetryEncoder(id);
          let current = r0;
          let snapshot = t0;
          for (const s of steps) {
            current = s.readings ?? current;
            if (s.newThroughput) snapshot = s.live.throughput;
            const l = { ...s.live, throughput: snapshot };
            expect(encode(current, l)).toEqual(reference(id, current, l));
          }
        },
      ),
    );
  });

  it("carries every field of the report (a field added to the schema must be added here too)", () => {
    const id: TelemetryIdentity = {
      workerId: "gpu-box-1",
      host: "box",
      version: "0.1.0",
      model: toWireDescriptor({
        name: "m",
        family: "llama",
        architecture: "llama",
        parameterCount: 1e9,
        quantization: "Q4_K_M",
        contextLength: 4096,
        trainContextLength: 8192,
        fileSizeBytes: 1e9,
        source: "/m.gguf",
        backend: "llama",
        hasChatTemplate: true,
        supportsScoring: true,
      }),
      intervalMs: 2000,
      startedAtMs: 1_700_000_000_000,
      labels: { rack: "a" },
    };
    const r: TelemetryReadings = {
      hardware: {
        gpus: [
          {
            index: 1,
            name: "RTX 3090",
            vendor: "nvidia",
            vramTotalBytes: 24e9,
            vramUsedBytes: 1e9,
            vramFreeBytes: 23e9,
            utilizationPercent: 50,
            powerWatts: 200,
            temperatureCelsius: 60,
            source: "nvidia-smi",
          },
        ],
        computeBackend: "cuda",
        ramTotalBytes: 64e9,
        ramFreeBytes: 32e9,
        vramTotalBytes: 24e9,
        vramFreeBytes: 23e9,
        cpuModel: "cpu",
        cpuCores: 8,
        cpuLoad: 0.5,
      },
      memory: { modelBytes: 1e9, contextBytes: 1e8, vramBytes: 0, gpuLayers: 0 },
      processRssBytes: 2e9,
    };
    const l: TelemetryLive = {
      state: WorkerState.BUSY,
      throughput: {
        prefillTokensPerSecond: 900,
        generationTokensPerSecond: 60,
        latencyP50Ms: 800,
        latencyP95Ms: 1200,
        samples: 3,
      },
      slots: { total: 2, active: 1, queued: 1, queueLimit: 4 },
      requests: { completed: 3, failed: 1, cancelled: 1, rejectedBusy: 1, lastError: "model_error: x" },
      sequence: 7,
      nowMs: 1_700_000_001_000,
    };
    const bytes = createTelemetryEncoder(id)(r, l);
    const t = fromBinary(WorkerTelemetrySchema, bytes);
    const unset = (schema: { fields: readonly { name: string }[] }, message: object) =>
      (schema.fields as Parameters<typeof isFieldSet>[1][])
        .filter((f) => !isFieldSet(message as never, f))
        .map((f) => f.name);
    expect(unset(WorkerTelemetrySchema, t)).toEqual([]);
    expect(unset(GpuInfoSchema, t.gpus[0] as object)).toEqual([]);
    expect(unset(HostMemorySchema, t.memory as object)).toEqual([]);
    expect(unset(ThroughputSchema, t.throughput as object)).toEqual([]);
    expect(unset(SlotStatsSchema, t.slots as object)).toEqual([]);
    expect(unset(RequestCountersSchema, t.requests as object)).toEqual([]);
    // And it is a valid report on the wire.
    expect(codecs.telemetry.decode(bytes, codecs.telemetry.typeName).workerId).toBe("gpu-box-1");
  });
});
