/**
 * Write coalescing for job events. A round emits dozens of events within milliseconds; acknowledging each
 * as its own JetStream message costs the coordinator a publish, an ack and nats.js's per-request
 * bookkeeping every time. Here each job keeps at most one write in flight: events emitted while it is in
 * flight (or within the same turn of the event loop) leave together in the next write, so the batch size
 * adapts to the broker's round-trip time with no timer to tune. Every append still resolves only once its
 * own event is acknowledged, in order.
 *
 * Events are encoded when their write is put together, never while they are appended: the engine emits
 * from the middle of a round, and what it does next (the next prompt, the next round) should not wait for
 * protobuf encoding that only the broker needs.
 */
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/** One event waiting for its write. */
export interface PendingFrame {
  sequence: bigint;
  /** The event's own protobuf encoding; called once, when the event's write is put together. */
  encode(): Uint8Array;
}

/** An event ready to be written. */
export interface EncodedFrame {
  sequence: bigint;
  bytes: Uint8Array;
}

/** Writes one batch (frames in sequence order) durably; rejects when it could not. */
export type BatchWriter = (jobId: string, frames: readonly EncodedFrame[]) => Promise<void>;

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
  /** Set once encoded. */
  bytes?: Uint8Array;
  resolve(): void;
  reject(err: unknown): void;
}

interface JobQueue {
  waiting: Waiting[];
  /** Frames of the write in flight. */
  writing: number;
  busy: boolean;
}

/**
 * Encodes every waiting frame that is not encoded yet; a frame that cannot be encoded is rejected and
 * leaves the queue (the others still go). Returns the frames still waiting, all encoded.
 */
function encodeWaiting(waiting: readonly Waiting[]): Array<Waiting & EncodedFrame> {
  const out: Array<Waiting & EncodedFrame> = [];
  for (const f of waiting) {
    if (f.bytes === undefined) {
      try {
        f.bytes = f.encode();
      } catch (err) {
        f.reject(err);
        continue;
      }
    }
    out.push(f as Waiting & EncodedFrame);
  }
  return out;
}

export class EventBatcher {
  readonly #queues = new Map<string, JobQueue>();

  constructor(
    private readonly write: BatchWriter,
    private readonly maxBytes: number,
    private readonly defer: (fn: () => void) => void = setImmediate,
  ) {}

  /** Queues one event; resolves when the write that carries it is acknowledged. */
  append(jobId: string, frame: PendingFrame): Promise<void> {
    let q = this.#queues.get(jobId);
    if (!q) {
      q = { waiting: [], writing: 0, busy: false };
      this.#queues.set(jobId, q);
    }
    const queue = q;
    const done = new Promise<void>((resolve, reject) =>
      queue.waiting.push({ sequence: frame.sequence, encode: frame.encode, resolve, reject }),
    );
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
      const ready = encodeWaiting(q.waiting);
      q.waiting = ready;
      if (ready.length === 0) break;
      const batch = ready.splice(0, framesForNextWrite(ready, this.maxBytes));
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
