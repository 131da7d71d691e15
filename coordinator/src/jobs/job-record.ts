/**
 * The job record (what `conclave jobs` lists and the KV bucket stores) follows the job's events: the
 * current round, the seats, and at the end the finished job as the runner reported it. Pure.
 */
import { create } from "@bufbuild/protobuf";
import { type Job, type JobEvent, JobSchema } from "../../../proto/gen/conclave/v1/deliberation_pb.js";

/**
 * The record after `event`, or undefined when the event does not change it. A `finished` event's job
 * replaces the record but keeps what only the manager knows (creation time, resume count).
 */
export function jobAfterEvent(job: Job, event: JobEvent): Job | undefined {
  const e = event.event;
  switch (e.case) {
    case "roundStarted":
      return create(JobSchema, { ...job, currentRound: e.value.round, updatedAtUnixMs: event.atUnixMs });
    case "seated": {
      const seats = new Map(job.seats.map((s) => [s.seatId, s]));
      for (const s of e.value.seats) seats.set(s.seatId, s);
      return create(JobSchema, { ...job, seats: [...seats.values()] });
    }
    case "finished":
      return e.value.job
        ? create(JobSchema, {
            ...e.value.job,
            resumes: job.resumes,
            createdAtUnixMs: job.createdAtUnixMs,
          })
        : undefined;
    default:
      return undefined;
  }
}
