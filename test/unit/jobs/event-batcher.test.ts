import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  type EncodedFrame,
  EventBatcher,
  encodeEventBatch,
  framesForNextWrite,
  type PendingFrame,
} from "../../../coordinator/src/jobs/event-batcher.js";
import { JobEventBatchSchema, JobEventSchema } from "../../../proto/gen/conclave/v1/deliberation_pb.js";

function encoded(sequence: number, message = `e${sequence}`): EncodedFrame {
  const event = create(JobEventSchema, {
    jobId: "job_a",
    sequence: BigInt(sequence),
    event: { case: "log", value: { message } },
  });
  return { sequence: BigInt(sequence), bytes: toBinary(JobEventSchema, event) };
}

function frame(sequence: number, message = `e${sequence}`): PendingFrame {
  return { sequence: BigInt(sequence), encode: () => encoded(sequence, message).bytes };
}

/** A writer whose writes complete only when the test says so. */
function manualWriter() {
  const writes: Array<{ jobId: string; sequences: number[]; done(): void; fail(e: Error): void }> = [];
  const write = (jobId: string, frames: readonly EncodedFrame[]) =>
    new Promise<void>((resolve, reject) =>
      writes.push({ jobId, sequences: frames.map((f) => Number(f.sequence)), done: resolve, fail: reject }),
    );
  return { writes, write };
}

/** Runs deferred callbacks only when flushed, so a test controls what one "turn" holds. */
function manualDefer() {
  const queue: Array<() => void> = [];
  return {
    defer: (fn: () => void) => queue.push(fn),
    flush: () => {
      for (const fn of queue.splice(0)) fn();
    },
  };
}

const settle = () => new Promise((r) => setImmediate(r));

describe("framesForNextWrite", () => {
  it("takes frames while they fit, and always at least one", () => {
    const q = [
      { bytes: new Uint8Array(100) },
      { bytes: new Uint8Array(100) },
      { bytes: new Uint8Array(100) },
    ];
    expect(framesForNextWrite(q, 250)).toBe(2);
    expect(framesForNextWrite(q, 10_000)).toBe(3);
    expect(framesForNextWrite(q, 50)).toBe(1);
    expect(framesForNextWrite([], 50)).toBe(0);
  });
});

describe("encodeEventBatch", () => {
  it("is the wire form of JobEventBatch: it decodes to the same events in order", () => {
    const frames = [encoded(1), encoded(2, "x".repeat(300)), encoded(3, "")];
    const batch = fromBinary(JobEventBatchSchema, encodeEventBatch(frames));
    expect(batch.events.map((e) => Number(e.sequence))).toEqual([1, 2, 3]);
    expect(batch.events[1]?.event.case === "log" && batch.events[1].event.value.message).toBe(
      "x".repeat(300),
    );
  });
});

describe("EventBatcher", () => {
  it("coalesces one turn's events into one write and the rest into the next, keeping order", async () => {
    const w = manualWriter();
    const d = manualDefer();
    const b = new EventBatcher(w.write, 1 << 20, d.defer);
    const acked: number[] = [];
    for (const s of [1, 2, 3]) void b.append("job_a", frame(s)).then(() => acked.push(s));
    expect(w.writes).toHaveLength(0); // nothing leaves before the turn ends
    d.flush();
    expect(w.writes.map((x) => x.sequences)).toEqual([[1, 2, 3]]);
    // Events emitted while the first write is in flight wait for it, then leave together.
    for (const s of [4, 5]) void b.append("job_a", frame(s)).then(() => acked.push(s));
    d.flush();
    expect(w.writes).toHaveLength(1);
    expect(b.pending).toBe(5);
    w.writes[0]?.done();
    await settle();
    expect(acked).toEqual([1, 2, 3]);
    expect(w.writes.map((x) => x.sequences)).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    w.writes[1]?.done();
    await settle();
    expect(acked).toEqual([1, 2, 3, 4, 5]);
    expect(b.pending).toBe(0);
  });

  it("keeps jobs independent: one job's slow write does not hold another's", async () => {
    const w = manualWriter();
    const d = manualDefer();
    const b = new EventBatcher(w.write, 1 << 20, d.defer);
    void b.append("job_a", frame(1));
    void b.append("job_b", frame(1));
    d.flush();
    expect(w.writes.map((x) => x.jobId).sort()).toEqual(["job_a", "job_b"]);
  });

  it("splits a burst larger than the size limit into several writes", async () => {
    const w = manualWriter();
    const d = manualDefer();
    const size = encoded(1).bytes.length + 6;
    const b = new EventBatcher(w.write, size * 2, d.defer);
    for (const s of [1, 2, 3, 4, 5]) void b.append("job_a", frame(s));
    d.flush();
    expect(w.writes.map((x) => x.sequences)).toEqual([[1, 2]]);
    w.writes[0]?.done();
    await settle();
    w.writes[1]?.done();
    await settle();
    expect(w.writes.map((x) => x.sequences)).toEqual([[1, 2], [3, 4], [5]]);
  });

  it("rejects exactly the appends of a failed write and goes on with the next", async () => {
    const w = manualWriter();
    const d = manualDefer();
    const b = new EventBatcher(w.write, 1 << 20, d.defer);
    const first = [b.append("job_a", frame(1)), b.append("job_a", frame(2))];
    d.flush();
    const later = b.append("job_a", frame(3));
    w.writes[0]?.fail(new Error("broker down"));
    await expect(first[0]).rejects.toThrow("broker down");
    await expect(first[1]).rejects.toThrow("broker down");
    await settle();
    expect(w.writes[1]?.sequences).toEqual([3]);
    w.writes[1]?.done();
    await expect(later).resolves.toBeUndefined();
  });

  it("encodes an event when its write is put together, not when it is appended", async () => {
    const w = manualWriter();
    const d = manualDefer();
    const b = new EventBatcher(w.write, 1 << 20, d.defer);
    const encodedAt: number[] = [];
    const lazy = (s: number): PendingFrame => ({
      sequence: BigInt(s),
      encode: () => {
        encodedAt.push(s);
        return encoded(s).bytes;
      },
    });
    void b.append("job_a", lazy(1));
    void b.append("job_a", lazy(2));
    expect(encodedAt).toEqual([]); // the emitter's turn does no encoding
    d.flush();
    expect(encodedAt).toEqual([1, 2]);
    void b.append("job_a", lazy(3)); // while the first write is in flight
    expect(encodedAt).toEqual([1, 2]);
    w.writes[0]?.done();
    await settle();
    expect(encodedAt).toEqual([1, 2, 3]);
    expect(fromBinary(JobEventSchema, encoded(3).bytes).sequence).toBe(3n);
  });

  it("rejects only the append whose event cannot be encoded; the others are written", async () => {
    const w = manualWriter();
    const d = manualDefer();
    const b = new EventBatcher(w.write, 1 << 20, d.defer);
    const ok1 = b.append("job_a", frame(1));
    const bad = b.append("job_a", {
      sequence: 2n,
      encode: () => {
        throw new Error("int32 out of range");
      },
    });
    const ok3 = b.append("job_a", frame(3));
    d.flush();
    await expect(bad).rejects.toThrow("int32 out of range");
    expect(w.writes.map((x) => x.sequences)).toEqual([[1, 3]]);
    w.writes[0]?.done();
    await expect(ok1).resolves.toBeUndefined();
    await expect(ok3).resolves.toBeUndefined();
    expect(b.pending).toBe(0);
  });
});
