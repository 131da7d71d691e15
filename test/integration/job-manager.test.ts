/**
 * The job manager over a real JetStream store: finished jobs leave memory within the retention bounds, and
 * every read of a forgotten job (get, watch, transcript) is served from the store with nothing lost.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobManager, type JobRunner } from "../../coordinator/src/jobs/job-manager.js";
import { openJobStore } from "../../coordinator/src/jobs/job-store.js";
import {
  type JobEvent,
  JobEventSchema,
  JobFinishedSchema,
  JobResultSchema,
  JobSchema,
  JobSpecSchema,
  JobState,
  StopReason,
  Strategy,
} from "../../proto/gen/conclave/v1/deliberation_pb.js";
import { silentLogger } from "../../proto/src/logger.js";
import { connectNats, type NatsConnection } from "../../proto/src/nats-io.js";
import { type NatsServerHandle, startNatsServer } from "../support/nats-server.js";
import { pollUntil } from "../support/poll.js";

let server: NatsServerHandle;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: "job-manager-test" });
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

/** A runner at the engine's edge: a few log events with a large payload, then `finished`. */
const runner: JobRunner = async ({ jobId, spec, emit, firstSequence, createdAtUnixMs }) => {
  let seq = BigInt(firstSequence);
  const event = (e: MessageInitShape<typeof JobEventSchema>["event"]) =>
    emit(create(JobEventSchema, { jobId, sequence: seq++, event: e }));
  for (let i = 0; i < 5; i++) event({ case: "log", value: { message: `step ${i} ${"x".repeat(2000)}` } });
  event({
    case: "finished",
    value: create(JobFinishedSchema, {
      job: create(JobSchema, {
        jobId,
        spec,
        state: JobState.SUCCEEDED,
        createdAtUnixMs: BigInt(createdAtUnixMs),
        result: create(JobResultSchema, {
          answer: `answer to ${spec.task}`,
          stopReason: StopReason.MAX_ROUNDS,
        }),
      }),
    }),
  });
};

async function collect(jm: JobManager, jobId: string, fromSequence = 1n): Promise<JobEvent[]> {
  const out: JobEvent[] = [];
  for await (const e of jm.watch(jobId, fromSequence, new AbortController().signal)) out.push(e);
  return out;
}

async function manager(retention: { maxJobs: number; maxAgeMs: number }): Promise<JobManager> {
  const store = await openJobStore(nc, { storage: "memory" });
  return new JobManager({ store, runner, validate: () => [], log: silentLogger(), retention });
}

const spec = (task: string) => create(JobSpecSchema, { task, strategy: Strategy.SINGLE });
const summary = (events: readonly JobEvent[]) => events.map((e) => [e.sequence, e.event.case]);

describe("job manager retention", () => {
  it("keeps at most maxJobs finished jobs in memory; the rest are read back whole from the store", async () => {
    const jm = await manager({ maxJobs: 2, maxAgeMs: 60_000 });
    const ids: string[] = [];
    const live: JobEvent[][] = [];
    for (let i = 0; i < 5; i++) {
      const job = await jm.submit(spec(`task ${i}`));
      ids.push(job.jobId);
      live.push(await collect(jm, job.jobId)); // follows it live to the end
    }
    await pollUntil("only the two newest finished jobs left in memory", () =>
      ids.map((id) => jm.isInMemory(id)).join() === "false,false,false,true,true" ? true : undefined,
    );

    const forgotten = ids[0]!;
    const replayed = await collect(jm, forgotten);
    expect(summary(replayed)).toEqual(summary(live[0]!));
    expect(replayed.at(-1)?.event.case).toBe("finished");
    const job = await jm.get(forgotten);
    expect(job?.state).toBe(JobState.SUCCEEDED);
    expect(job?.result?.answer).toBe("answer to task 0");
    const transcript = await jm.transcript(forgotten);
    expect(transcript?.events.map((e) => e.sequence)).toEqual(live[0]!.map((e) => e.sequence));
    // Resuming a watch part-way through a forgotten job starts where asked.
    const tail = await collect(jm, forgotten, 4n);
    expect(tail.map((e) => e.sequence)).toEqual(
      live[0]!.filter((e) => e.sequence >= 4n).map((e) => e.sequence),
    );
    // Cancelling a forgotten finished job is answered from the store as well.
    expect((await jm.cancel(forgotten, "too late")).state).toBe(JobState.SUCCEEDED);
    await jm.close();
  });

  it("forgets a finished job once it is older than maxAgeMs", async () => {
    const jm = await manager({ maxJobs: 100, maxAgeMs: 300 });
    const job = await jm.submit(spec("soon forgotten"));
    const seen = await collect(jm, job.jobId);
    expect(jm.isInMemory(job.jobId)).toBe(true);
    await pollUntil("the job leaves memory after maxAgeMs", () => !jm.isInMemory(job.jobId), {
      timeoutMs: 10_000,
    });
    expect(summary(await collect(jm, job.jobId))).toEqual(summary(seen));
    await jm.close();
  });
});
