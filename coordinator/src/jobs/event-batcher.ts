/**
 * Write coalescing for job events. A round emits dozens of events within milliseconds; acknowledging each
 * as its own JetStream message costs the coordinator a publish, an ack and nats.js's per-request
 * bookkeeping every time. Here each job keeps at most one write in flight: events emitted while it is in
 * flight (or within the same turn of the event loop) leave together in the next write, so the batch size
 * adapts to the broker's round-trip time with no timer to tune. Every append still resolves only once its
 * own event is acknowledged, in order.
 */
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/** One encoded event waiting for its write. */
export interface PendingFrame {
  sequence: bigint;
  /** The event's own protobuf encoding. */
  bytes: Uint8Array;
}

/** Writes one batch (frames in sequence order) durably; rejects when it could not. */
export type BatchWriter = (jobId: string, frames: readonly PendingFrame[]) => Promise<void>;

/**
 * How many frames from the front of the queue go in the next write: as many as fit in `maxBytes`, and
 * always at least one (a frame larger than the limit goes alone and the broker judges it). Pure.
 */
export function framesForNextWrite(queue: readonly { bytes: Uint8Array }[], maxBytes: number): number {
  let size = 0;
  let n = 0;
  for (const f of queue) {
    // Field tag + length prefix of a repeated message: at most 1 + 5 bytes.
    const framed = f.bytes.length + 6;
    if (n > 0 && size + framed > maxBytes) break;
    size += framed;
    n += 1;
  }
  return n;
}

/**
 * The wire form of `JobEventBatch { repeated JobEvent events = 1 }` built from already encoded events,
 * so nothing is encoded twice. Pure.
 */
export function encodeEventBatch(frames: readonly { bytes: Uint8Array }[]): Uint8Array {
  const w = new BinaryWriter();
  for (const f of frames) w.tag(1, WireType.LengthDelimited).bytes(f.bytes);
  return w.finish();
}

interface Waiting extends PendingFrame {
  resolve(): void;
  reject(err: unknown): void;
}

interface JobQueue {
  waiting: Waiting[];
  /** Frames of the write in flight. */
  writing: number;
  busy: boolean;
}

export class EventBatcher {
  readonly #queues = new Map<string, JobQueue>();

  constructor(
    private readonly write: BatchWriter,
    private readonly maxBytes: number,
    private readonly defer: (fn: () => void) => void = setImmediate,
  ) {}

  /** Queues one encoded event; resolves when the write that carries it is acknowledged. */
  append(jobId: string, frame: PendingFrame): Promise<void> {
    let q = this.#queues.get(jobId);
    if (!q) {
      q = { waiting: [], writing: 0, busy: false };
      this.#queues.set(jobId, q);
    }
    const queue = q;
    const done = new Promise<void>((resolve, reject) => queue.waiting.push({ ...frame, resolve, reject }));
    if (!queue.busy) {
      queue.busy = true;
      // The rest of this turn's events join the first write.
      this.defer(() => void this.#drain(jobId, queue));
    }
    return done;
  }

  /** Events accepted but not yet acknowledged, over all jobs. */
  get pending(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.waiting.length + q.writing;
    return n;
  }

  async #drain(jobId: string, q: JobQueue): Promise<void> {
    while (q.waiting.length > 0) {
      const batch = q.waiting.splice(0, framesForNextWrite(q.waiting, this.maxBytes));
      q.writing = batch.length;
      try {
        await this.write(jobId, batch);
        for (const f of batch) f.resolve();
      } catch (err) {
        for (const f of batch) f.reject(err);
      }
      q.writing = 0;
    }
    q.busy = false;
    this.#queues.delete(jobId);
  }
}
