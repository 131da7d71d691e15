/**
 * The least-privilege accounts from deploy/nats-auth.ts on a real nats-server: a worker serves and reports
 * under its own account, and cannot impersonate another worker or listen to its requests.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsAuthConfig } from "../../deploy/nats-auth.js";
import { ChatRole } from "../../proto/gen/conclave/v1/common_pb.js";
import { InferenceRequestSchema } from "../../proto/gen/conclave/v1/inference_pb.js";
import { WorkerState, WorkerTelemetrySchema } from "../../proto/gen/conclave/v1/telemetry_pb.js";
import { codecs } from "../../proto/src/codecs.js";
import { newRequestId } from "../../proto/src/ids.js";
import { connectNats, type NatsConnection, publishMessage, subscribeTyped } from "../../proto/src/nats-io.js";
import { subjects } from "../../proto/src/subjects.js";
import { VERSION } from "../../proto/src/version.js";
import { createWorkerClient } from "../../proto/src/worker-client.js";
import { startWorkerService } from "../../worker/src/service/worker-service.js";
import { ThroughputTracker } from "../../worker/src/throughput.js";
import { testLogger } from "../support/logger.js";
import { type NatsServerHandle, startNatsServer } from "../support/nats-server.js";
import { pollUntil } from "../support/poll.js";
import { ScriptedBackend } from "../support/scripted-backend.js";

let dir: string;
let server: NatsServerHandle;
let coordinator: NatsConnection;
let worker: NatsConnection;
const seen: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "conclave-nats-auth-"));
  const config = join(dir, "auth.conf");
  writeFileSync(
    config,
    natsAuthConfig({
      coordinator: { user: "coordinator", password: "c-secret" },
      workers: [
        { user: "w1", password: "w1-secret" },
        { user: "w2", password: "w2-secret" },
      ],
    }),
  );
  server = await startNatsServer({ configFile: config });
  coordinator = await connectNats({
    servers: server.url,
    name: "coordinator",
    user: "coordinator",
    pass: "c-secret",
  });
  worker = await connectNats({ servers: server.url, name: "w1", user: "w1", pass: "w1-secret" });
  subscribeTyped(coordinator, subjects.telemetryAll(), codecs.telemetry, {
    onMessage: (t) => {
      seen.push(`${t.workerId}:${t.host}`);
    },
    onError: () => {},
  });
  await coordinator.flush();
});

afterAll(async () => {
  await worker?.close();
  await coordinator?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("least-privilege NATS accounts", () => {
  it("lets a worker serve and report under its own account", async () => {
    const service = await startWorkerService({
      nc: worker,
      backend: new ScriptedBackend({ respond: () => "one two three four five" }),
      workerId: "w1",
      host: "box-1",
      version: VERSION,
      log: testLogger("w1"),
      throughput: new ThroughputTracker(),
      telemetryIntervalMs: 200,
    });
    await pollUntil("w1 telemetry at the coordinator", () => seen.includes("w1:box-1"));
    const chunks: string[] = [];
    const result = await createWorkerClient(coordinator).infer(
      "w1",
      create(InferenceRequestSchema, {
        requestId: newRequestId(),
        input: { case: "chat", value: { messages: [{ role: ChatRole.USER, content: "count" }] } },
        maxTokens: 16,
        stream: true,
      }),
      { onChunk: (c) => chunks.push(c.text) },
    );
    expect(result.text).toBe("one two three four five");
    expect(chunks.join("")).toBe(result.text);
    await service.drain("test over", 1000);
  });

  it("refuses a worker publishing another worker's telemetry", async () => {
    const fake = create(WorkerTelemetrySchema, {
      workerId: "w2",
      host: "impostor",
      state: WorkerState.READY,
      model: { name: "m" },
      slots: { total: 1 },
    });
    publishMessage(worker, subjects.telemetry("w2"), codecs.telemetry, fake);
    // Same connection, so this one arrives after the forbidden one would have.
    publishMessage(
      worker,
      subjects.telemetry("w1"),
      codecs.telemetry,
      create(WorkerTelemetrySchema, { ...fake, workerId: "w1", host: "marker" }),
    );
    await worker.flush();
    await pollUntil("the marker", () => seen.includes("w1:marker"));
    expect(seen).not.toContain("w2:impostor");
  });

  it("refuses a worker listening to another worker's requests", async () => {
    const errors: string[] = [];
    const sub = worker.subscribe(subjects.worker("w2", "infer"), {
      callback: (err) => {
        if (err) errors.push(err.message);
      },
    });
    await worker.flush();
    await pollUntil("a permission error", () => errors.length > 0 || sub.isClosed());
    expect(errors.join(" ")).toMatch(/permission/i);
  });

  it("refuses a wrong password with a clear error", async () => {
    await expect(
      connectNats({ servers: server.url, name: "bad", user: "w1", pass: "guess", timeoutMs: 2000 }),
    ).rejects.toThrow(/cannot reach NATS at .*: .*(authorization|auth)/i);
  });
});
