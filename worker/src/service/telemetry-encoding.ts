/**
 * Telemetry as bytes, the same bytes as `toBinary(WorkerTelemetrySchema, buildTelemetry(…))`, built without
 * re-encoding what did not change. A worker reports twice per request (busy, then ready: BRIEF §3 wants
 * every state change at once), and most of each report is the same as the last: its identity and model
 * never change, the hardware and memory readings change on the periodic tick, throughput after a request.
 * So those parts are encoded (by protobuf-es, like everything else) when they change and kept as bytes; a
 * report encodes only its few live fields and concatenates the parts in field order, which is exactly the
 * encoding of the whole message. Pure apart from its cache.
 */
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { WorkerTelemetrySchema } from "../../../proto/gen/conclave/v1/telemetry_pb.js";
import type { ThroughputSnapshot } from "../throughput.js";
import {
  gpusOf,
  memoryOf,
  type TelemetryIdentity,
  type TelemetryLive,
  type TelemetryReadings,
} from "./telemetry.js";

/**
 * Encodes one report. `readings` and `live.throughput` are compared by identity with the previous call's:
 * pass a new object when they change (the service makes new readings on each tick, the throughput tracker a
 * new snapshot after each sample), never a mutated one.
 */
export type TelemetryEncoder = (readings: TelemetryReadings, live: TelemetryLive) => Uint8Array;

/** Some fields of a report encoded on their own: a part to concatenate with the others. */
function part(fields: MessageInitShape<typeof WorkerTelemetrySchema>): Uint8Array {
  return toBinary(WorkerTelemetrySchema, create(WorkerTelemetrySchema, fields));
}

/** A count as buildTelemetry makes it (≥ 0, whole). */
const big = (n: number): bigint => BigInt(Math.max(0, Math.round(n)));

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function createTelemetryEncoder(id: TelemetryIdentity): TelemetryEncoder {
  // Field order of WorkerTelemetry: identity 1–3, state 4, model 5, readings 6–7, throughput 8, slots 9,
  // requests 10, sent-at 11, sequence 12, identity again 13–15.
  const head = part({ workerId: id.workerId, host: id.host, version: id.version });
  const model = part({ model: id.model });
  const tail = part({
    intervalMs: id.intervalMs,
    startedAtUnixMs: BigInt(Math.round(id.startedAtMs)),
    labels: id.labels,
  });
  let readingsFor: TelemetryReadings | undefined;
  let readings: Uint8Array = new Uint8Array(0);
  let throughputFor: ThroughputSnapshot | undefined;
  let throughput: Uint8Array = new Uint8Array(0);

  return (r, live) => {
    if (r !== readingsFor) {
      readings = part({ gpus: gpusOf(r.hardware), memory: memoryOf(r) });
      readingsFor = r;
    }
    const t = live.throughput;
    if (t !== throughputFor) {
      throughput = part({
        throughput: {
          prefillTokensPerSecond: t.prefillTokensPerSecond ?? 0,
          generationTokensPerSecond: t.generationTokensPerSecond ?? 0,
          latencyP50Ms: t.latencyP50Ms ?? 0,
          latencyP95Ms: t.latencyP95Ms ?? 0,
          samples: BigInt(t.samples),
        },
      });
      throughputFor = t;
    }
    const q = live.requests;
    const counters = part({
      slots: {
        total: live.slots.total,
        active: live.slots.active,
        queued: live.slots.queued,
        queueLimit: live.slots.queueLimit,
      },
      requests: {
        completed: big(q.completed),
        failed: big(q.failed),
        cancelled: big(q.cancelled),
        rejectedBusy: big(q.rejectedBusy),
        lastError: q.lastError,
      },
      sentAtUnixMs: BigInt(Math.round(live.nowMs)),
      sequence: BigInt(live.sequence),
    });
    return concat([head, part({ state: live.state }), model, readings, throughput, counters, tail]);
  };
}
