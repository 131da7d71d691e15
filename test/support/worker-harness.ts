/** Starts a real worker service (real NATS connection) around any backend, for integration tests. */
import type { BackendKind } from "../../proto/gen/conclave/v1/telemetry_pb.js";
import { connectNats, type NatsConnection } from "../../proto/src/nats-io.js";
import { VERSION } from "../../proto/src/version.js";
import type { ModelBackend } from "../../worker/src/backends/types.js";
import { startWorkerService, type WorkerService } from "../../worker/src/service/worker-service.js";
import { ThroughputTracker } from "../../worker/src/throughput.js";
import { testLogger } from "./logger.js";

export interface TestWorker {
  service: WorkerService;
  nc: NatsConnection;
  backend: ModelBackend;
  stop(): Promise<void>;
}

export async function startTestWorker(options: {
  natsUrl: string;
  backend: ModelBackend;
  workerId: string;
  telemetryIntervalMs?: number;
  backendKind?: BackendKind;
  drainGraceMs?: number;
}): Promise<TestWorker> {
  const nc = await connectNats({ servers: options.natsUrl, name: `worker-${options.workerId}` });
  const service = await startWorkerService({
    nc,
    backend: options.backend,
    workerId: options.workerId,
    host: "test-host",
    version: VERSION,
    log: testLogger(options.workerId),
    throughput: new ThroughputTracker(),
    telemetryIntervalMs: options.telemetryIntervalMs ?? 200,
    ...(options.backendKind !== undefined ? { backendKind: options.backendKind } : {}),
    ...(options.drainGraceMs !== undefined ? { drainGraceMs: options.drainGraceMs } : {}),
  });
  return {
    service,
    nc,
    backend: options.backend,
    async stop() {
      await service.drain("test over", 1000);
      await options.backend.close();
      await nc.close();
    },
  };
}
