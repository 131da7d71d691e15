import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { jobAfterEvent } from "../../../coordinator/src/jobs/job-record.js";
import {
  type JobEvent,
  JobEventSchema,
  JobSchema,
  JobState,
} from "../../../proto/gen/conclave/v1/deliberation_pb.js";

const base = create(JobSchema, {
  jobId: "job_a",
  state: JobState.RUNNING,
  createdAtUnixMs: 1000n,
  resumes: 1,
  seats: [{ seatId: "s1", workerId: "w1" }],
});
const roundStarted = (round: number): JobEvent =>
  create(JobEventSchema, {
    jobId: "job_a",
    atUnixMs: 5000n,
    event: { case: "roundStarted", value: { round } },
  });

describe("jobAfterEvent", () => {
  it("follows the current round", () => {
    const next = jobAfterEvent(base, roundStarted(4));
    expect(next?.currentRound).toBe(4);
    expect(next?.updatedAtUnixMs).toBe(5000n);
    expect(base.currentRound).toBe(0); // the old record is not changed
  });

  it("merges seats by seat id", () => {
    const seated = create(JobEventSchema, {
      event: {
        case: "seated",
        value: {
          seats: [
            { seatId: "s1", workerId: "w9" },
            { seatId: "s2", workerId: "w2" },
          ],
        },
      },
    });
    const next = jobAfterEvent(base, seated);
    expect(next?.seats.map((s) => [s.seatId, s.workerId])).toEqual([
      ["s1", "w9"],
      ["s2", "w2"],
    ]);
  });

  it("takes the finished job but keeps the creation time and resume count the manager knows", () => {
    const finished = create(JobEventSchema, {
      event: {
        case: "finished",
        value: { job: { jobId: "job_a", state: JobState.SUCCEEDED, createdAtUnixMs: 9999n, resumes: 0 } },
      },
    });
    const next = jobAfterEvent(base, finished);
    expect(next?.state).toBe(JobState.SUCCEEDED);
    expect(next?.createdAtUnixMs).toBe(1000n);
    expect(next?.resumes).toBe(1);
  });

  it("leaves the record alone for every other event, and for a finished event without a job", () => {
    expect(
      jobAfterEvent(base, create(JobEventSchema, { event: { case: "log", value: { message: "x" } } })),
    ).toBeUndefined();
    expect(
      jobAfterEvent(base, create(JobEventSchema, { event: { case: "finished", value: {} } })),
    ).toBeUndefined();
  });
});
