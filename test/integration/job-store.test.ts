import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openJobStore } from "../../coordinator/src/jobs/job-store.js";
import {
  JobEventSchema,
  JobSchema,
  JobState,
  Strategy,
} from "../../proto/gen/conclave/v1/deliberation_pb.js";
import { newJobId } from "../../proto/src/ids.js";
import { connectNats, type NatsConnection } from "../../proto/src/nats-io.js";
import { type NatsServerHandle, startNatsServer } from "../support/nats-server.js";

let server: NatsServerHandle;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: "job-store-test" });
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

function job(jobId: string, state: JobState, createdAt: number) {
  return create(JobSchema, {
    jobId,
    state,
    createdAtUnixMs: BigInt(createdAt),
    spec: { task: "2+2?", strategy: Strategy.NSED },
  });
}

describe("job store on JetStream", () => {
  it("keeps job records and ordered transcripts across a broker restart", async () => {
    const store = await openJobStore(nc);
    const a = newJobId(1000);
    const b = newJobId(2000);
    await store.putJob(job(a, JobState.RUNNING, 1000));
    await store.putJob(job(b, JobState.QUEUED, 2000));
    for (let seq = 1n; seq <= 25n; seq++) {
      await store.appendEvent(
        create(JobEventSchema, {
          jobId: a,
          sequence: seq,
          event: { case: "log", value: { message: `e${seq}` } },
        }),
      );
    }
    await store.appendEvent(
      create(JobEventSchema, { jobId: b, sequence: 1n, event: { case: "log", value: { message: "b" } } }),
    );
    // Publishing the same event twice (a retry after a lost ack) does not duplicate it.
    await store.appendEvent(
      create(JobEventSchema, { jobId: b, sequence: 1n, event: { case: "log", value: { message: "b" } } }),
    );

    await server.restart();
    const nc2 = await connectNats({ servers: server.url, name: "after-restart" });
    try {
      const again = await openJobStore(nc2);
      expect((await again.listJobs()).map((j) => j.jobId)).toEqual([b, a]);
      expect((await again.getJob(a))?.state).toBe(JobState.RUNNING);
      const events = await again.readEvents(a);
      expect(events.map((e) => e.sequence)).toEqual(Array.from({ length: 25 }, (_, i) => BigInt(i + 1)));
      expect((await again.readEvents(a, 20n)).map((e) => Number(e.sequence))).toEqual([
        20, 21, 22, 23, 24, 25,
      ]);
      expect(await again.readEvents(b)).toHaveLength(1);
      const t = await again.transcript(a);
      expect(t?.job?.jobId).toBe(a);
      expect(t?.events).toHaveLength(25);
      expect(await again.getJob("job_missing00000")).toBeUndefined();
      expect(await again.transcript("job_missing00000")).toBeUndefined();
    } finally {
      await nc2.close();
    }
  });
});
