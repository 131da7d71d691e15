/**
 * An in-process cluster on a real nats-server: a real coordinator (startCoordinator) and real worker services
 * around real backends. Integration tests use it when they need many jobs quickly; the CLI tests use the
 * binary instead.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type Coordinator, startCoordinator } from "../../coordinator/src/server/coordinator.js";
import {
  type Job,
  type JobEvent,
  JobSpecSchema,
  type Transcript,
} from "../../proto/gen/conclave/v1/deliberation_pb.js";
import type { ModelBackend } from "../../worker/src/backends/types.js";
import { testLogger } from "./logger.js";
import { type NatsServerHandle, startNatsServer } from "./nats-server.js";
import { pollUntil } from "./poll.js";
import { startTestWorker, type TestWorker } from "./worker-harness.js";

export interface TestCluster {
  server: NatsServerHandle;
  coordinator: Coordinator;
  workers: TestWorker[];
  /** Submits a job and resolves with its events once it has finished. */
  run(
    spec: MessageInitShape<typeof JobSpecSchema>,
    timeoutMs?: number,
  ): Promise<{ job: Job; events: JobEvent[] }>;
  transcript(jobId: string): Promise<Transcript | undefined>;
  stop(): Promise<void>;
}

export async function startTestCluster(
  backends: Array<{ id: string; backend: ModelBackend }>,
): Promise<TestCluster> {
  const server = await startNatsServer();
  const coordinator = await startCoordinator({
    nats: server.url,
    listen: "127.0.0.1:0",
    log: testLogger("coordinator"),
    telemetryIntervalMs: 300,
    recoveryDelayMs: 100,
  });
  const workers: TestWorker[] = [];
  for (const b of backends) {
    workers.push(
      await startTestWorker({
        natsUrl: server.url,
        backend: b.backend,
        workerId: b.id,
        telemetryIntervalMs: 300,
      }),
    );
  }
  await pollUntil("every worker ready in the registry", () =>
    backends.every((b) =>
      ["ready", "busy"].includes(coordinator.registry.state.workers.get(b.id as never)?.state ?? ""),
    ),
  );
  return {
    server,
    coordinator,
    workers,
    async run(spec, timeoutMs = 120_000) {
      const job = await coordinator.jobs.submit(create(JobSpecSchema, spec));
      const events: JobEvent[] = [];
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), timeoutMs);
      try {
        for await (const e of coordinator.jobs.watch(job.jobId, 1n, controller.signal)) events.push(e);
      } finally {
        clearTimeout(timer);
      }
      const last = events.at(-1);
      if (last?.event.case !== "finished" || !last.event.value.job) {
        throw new Error(`job ${job.jobId} did not finish within ${timeoutMs} ms (${events.length} events)`);
      }
      return { job: last.event.value.job, events };
    },
    transcript: (jobId) => coordinator.jobs.transcript(jobId),
    async stop() {
      await coordinator.stop();
      for (const w of workers) await w.stop();
      await server.stop();
    },
  };
}
