/** Numbering and stamping job events: one writer per job, sequence 1, 2, 3, … in emission order. */
import { create } from "@bufbuild/protobuf";
import { type JobEvent, JobEventSchema } from "../../../../proto/gen/conclave/v1/deliberation_pb.js";

/** The oneof body of a job event (anything but the empty case). */
export type JobEventBody = Exclude<JobEvent["event"], { case: undefined }>;

export class TranscriptWriter {
  private next: number;
  constructor(
    private readonly jobId: string,
    private readonly sink: (event: JobEvent) => void,
    private readonly now: () => number,
    firstSequence = 1,
  ) {
    this.next = firstSequence;
  }

  /** Emits at once: the sequence is assigned synchronously, so concurrent phases stay well ordered. */
  emit(body: JobEventBody): void {
    const event = create(JobEventSchema, {
      jobId: this.jobId,
      sequence: BigInt(this.next++),
      atUnixMs: BigInt(Math.round(this.now())),
      event: body,
    });
    this.sink(event);
  }

  /** The sequence number the next event will get. */
  get nextSequence(): number {
    return this.next;
  }
}
