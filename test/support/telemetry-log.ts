/** Records every telemetry report seen on a NATS connection, for tests that wait on worker states. */
import type { WorkerTelemetry } from "../../proto/gen/conclave/v1/telemetry_pb.js";
import { codecs } from "../../proto/src/codecs.js";
import { type NatsConnection, subscribeTyped } from "../../proto/src/nats-io.js";
import { subjects } from "../../proto/src/subjects.js";

export interface TelemetryLog {
  /** Every report, in arrival order. */
  readonly all: WorkerTelemetry[];
  /** The newest report of one worker. */
  latest(workerId: string): WorkerTelemetry | undefined;
}

export async function recordTelemetry(nc: NatsConnection): Promise<TelemetryLog> {
  const all: WorkerTelemetry[] = [];
  subscribeTyped(nc, subjects.telemetryAll(), codecs.telemetry, {
    onMessage: (t) => {
      all.push(t);
    },
    onError: () => {},
  });
  await nc.flush();
  return { all, latest: (id) => all.filter((t) => t.workerId === id).at(-1) };
}
