/**
 * The worker's NATS protocol end to end: a real nats-server, the real worker service and the real client,
 * with the scripted model backend at the model edge so every timing and answer is exact.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatRole } from "../../proto/gen/conclave/v1/common_pb.js";
import {
  FinishReason,
  type InferenceRequest,
  InferenceRequestSchema,
  ScoreRequestSchema,
  type TokenChunk,
} from "../../proto/gen/conclave/v1/inference_pb.js";
import { BackendKind, WorkerState, type WorkerTelemetry } from "../../proto/gen/conclave/v1/telemetry_pb.js";
import { codecs } from "../../proto/src/codecs.js";
import { ConclaveError, ErrorCode } from "../../proto/src/errors.js";
import { newRequestId } from "../../proto/src/ids.js";
import { connectNats, type NatsConnection, subscribeTyped } from "../../proto/src/nats-io.js";
import { subjects } from "../../proto/src/subjects.js";
import { createWorkerClient, type WorkerClient } from "../../proto/src/worker-client.js";
import { type NatsServerHandle, startNatsServer } from "../support/nats-server.js";
import { pollUntil } from "../support/poll.js";
import { ScriptedBackend } from "../support/scripted-backend.js";
import { recordTelemetry, type TelemetryLog } from "../support/telemetry-log.js";
import { startTestWorker, type TestWorker } from "../support/worker-harness.js";

let server: NatsServerHandle;
let nc: NatsConnection;
let client: WorkerClient;
let telemetryLog: TelemetryLog;

function chatRequest(
  text: string,
  overrides: MessageInitShape<typeof InferenceRequestSchema> = {},
): InferenceRequest {
  return create(InferenceRequestSchema, {
    requestId: newRequestId(),
    input: { case: "chat", value: { messages: [{ role: ChatRole.USER, content: text }] } },
    maxTokens: 512,
    stream: true,
    ...overrides,
  });
}

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(" ");

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: "test-client" });
  client = createWorkerClient(nc);
  telemetryLog = await recordTelemetry(nc);
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

const latest = (workerId: string) => telemetryLog.latest(workerId);

describe("worker protocol over real NATS", () => {
  let worker: TestWorker;

  beforeAll(async () => {
    worker = await startTestWorker({
      natsUrl: server.url,
      workerId: "proto-1",
      backend: new ScriptedBackend({
        name: "scripted-7b",
        slots: 2,
        queuePerSlot: 0,
        respond: (req) => (req.prompt ?? req.messages?.at(-1)?.content ?? "").toUpperCase(),
        tokenDelayMs: (req) => ((req.messages?.at(-1)?.content ?? "").startsWith("slow") ? 15 : 0),
      }),
      backendKind: BackendKind.SCRIPTED,
    });
  });

  afterAll(async () => {
    await worker?.stop();
  });

  it("announces itself on join with its model descriptor and slots", async () => {
    const t = await pollUntil("telemetry from proto-1", () => latest("proto-1"));
    expect(t.state).toBe(WorkerState.READY);
    expect(t.model?.name).toBe("scripted-7b");
    expect(t.model?.backend).toBe(BackendKind.SCRIPTED);
    expect(t.slots?.total).toBe(2);
    expect(t.host).toBe("test-host");
    expect(t.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("keeps reporting every interval with increasing sequence numbers", async () => {
    const first = await pollUntil("a report", () => latest("proto-1"));
    const later = await pollUntil("a later report", () => {
      const t = latest("proto-1");
      return t && t.sequence > first.sequence + 1n ? t : undefined;
    });
    expect(later.sequence).toBeGreaterThan(first.sequence);
  });

  it("streams an answer in ordered, batched chunks whose concatenation is the result", async () => {
    const chunks: TokenChunk[] = [];
    const text = words(300);
    const result = await client.infer("proto-1", chatRequest(text), { onChunk: (c) => chunks.push(c) });
    expect(result.text).toBe(text.toUpperCase());
    expect(result.finishReason).toBe(FinishReason.STOP);
    expect(result.usage?.completionTokens).toBe(300);
    expect(result.workerId).toBe("proto-1");
    expect(chunks.map((c) => c.text).join("")).toBe(result.text);
    expect(chunks.map((c) => c.sequence)).toEqual(chunks.map((_, i) => i));
    // Batching: far fewer messages than tokens, and every token accounted for.
    expect(chunks.length).toBeLessThan(300);
    expect(chunks.reduce((n, c) => n + c.tokenCount, 0)).toBe(300);
  });

  it("sends only the final result when streaming is off", async () => {
    const chunks: TokenChunk[] = [];
    const result = await client.infer("proto-1", chatRequest("quiet please", { stream: false }), {
      onChunk: (c) => chunks.push(c),
    });
    expect(result.text).toBe("QUIET PLEASE");
    expect(chunks).toEqual([]);
  });

  it("stops generation at once when cancelled mid-stream", async () => {
    const controller = new AbortController();
    const chunks: TokenChunk[] = [];
    const result = await client.infer("proto-1", chatRequest(`slow ${words(400)}`), {
      signal: controller.signal,
      onChunk: (c) => {
        chunks.push(c);
        if (chunks.length === 2) controller.abort();
      },
    });
    expect(result.finishReason).toBe(FinishReason.CANCELLED);
    expect(result.usage?.completionTokens).toBeGreaterThan(0);
    expect(result.usage?.completionTokens).toBeLessThan(100);
  });

  it("answers busy when every slot and queue place is taken", async () => {
    const long1 = client.infer("proto-1", chatRequest(`slow ${words(40)}`));
    const long2 = client.infer("proto-1", chatRequest(`slow ${words(40)}`));
    await pollUntil("both slots busy", () => latest("proto-1")?.state === WorkerState.BUSY);
    await expect(client.infer("proto-1", chatRequest("one more"))).rejects.toMatchObject({
      code: ErrorCode.BUSY,
      retryable: true,
    });
    await Promise.all([long1, long2]);
    await pollUntil("ready again", () => latest("proto-1")?.state === WorkerState.READY);
    expect(latest("proto-1")?.requests?.rejectedBusy).toBeGreaterThanOrEqual(1n);
  });

  it("honours deadlines: dead on arrival, and mid-generation", async () => {
    await expect(
      client.infer("proto-1", chatRequest("late", { deadlineUnixMs: BigInt(Date.now() - 1) })),
    ).rejects.toMatchObject({ code: ErrorCode.DEADLINE_EXCEEDED });
    const result = await client.infer(
      "proto-1",
      chatRequest(`slow ${words(400)}`, { deadlineUnixMs: BigInt(Date.now() + 150) }),
    );
    expect(result.finishReason).toBe(FinishReason.DEADLINE);
    expect(result.usage?.completionTokens).toBeLessThan(400);
  });

  it("rejects malformed requests with a typed error and keeps serving", async () => {
    const inbox = `_INBOX.garbage.${Date.now()}`;
    const sub = nc.subscribe(inbox, { max: 1 });
    nc.publish(subjects.worker("proto-1", "infer"), new Uint8Array([1, 2, 3, 250]), { reply: inbox });
    for await (const msg of sub) {
      const frame = codecs.inferenceFrame.decode(msg.data);
      expect(frame.frame.case).toBe("error");
      if (frame.frame.case === "error") expect(frame.frame.value.code).toBe(ErrorCode.DECODE);
    }
    await expect(client.infer("proto-1", chatRequest("x", { maxTokens: 0 }))).rejects.toMatchObject({
      code: ErrorCode.DECODE,
    });
    const ok = await client.infer("proto-1", chatRequest("still alive"));
    expect(ok.text).toBe("STILL ALIVE");
  });

  it("scores candidates over NATS", async () => {
    const result = await client.score(
      "proto-1",
      create(ScoreRequestSchema, {
        requestId: newRequestId(),
        input: { case: "rawPrompt", value: "Q 1+1=" },
        candidates: ["2", "11"],
        appendEos: true,
      }),
    );
    expect(result.candidates.map((c) => c.tokens.length)).toEqual([2, 3]);
    expect(result.candidates[1]?.totalLogprob).toBeCloseTo(-0.3);
  });

  it("answers discovery at once", async () => {
    const before = latest("proto-1")?.sequence ?? 0n;
    const t0 = telemetryLog.all.length;
    client.discover("test");
    await pollUntil("a report after discover", () =>
      telemetryLog.all.slice(t0).find((t) => t.workerId === "proto-1" && t.sequence > before),
    );
  });

  it("says unavailable for a worker nobody serves", async () => {
    await expect(client.infer("ghost", chatRequest("hello?"))).rejects.toMatchObject({
      code: ErrorCode.UNAVAILABLE,
    });
  });
});

describe("drain", () => {
  it("finishes in-flight work, refuses new work, announces leaving and stops", async () => {
    const worker = await startTestWorker({
      natsUrl: server.url,
      workerId: "drainer",
      backend: new ScriptedBackend({ slots: 1, tokenDelayMs: 5 }),
    });
    await pollUntil("drainer joined", () => latest("drainer"));
    const inFlight = client.infer("drainer", chatRequest(words(60)));
    await pollUntil("drainer busy", () => latest("drainer")?.state === WorkerState.BUSY);
    const reply = await client.drain("drainer", "maintenance");
    expect(reply).toMatchObject({ workerId: "drainer", accepted: true, inFlight: 1 });
    await expect(client.infer("drainer", chatRequest("new work"))).rejects.toSatisfy(
      (e: unknown) =>
        e instanceof ConclaveError && e.code === ErrorCode.FAILED_PRECONDITION && /draining/.test(e.message),
    );
    const finished = await inFlight;
    expect(finished.text).toBe(words(60));
    await worker.service.done;
    // The worker flushed its last report before it was done; this test's subscriber, on another
    // connection, may still be receiving it.
    const drainerStates = () => telemetryLog.all.filter((t) => t.workerId === "drainer").map((t) => t.state);
    await pollUntil("the drainer's last report says leaving", () =>
      drainerStates().at(-1) === WorkerState.LEAVING ? true : undefined,
    );
    expect(drainerStates()).toContain(WorkerState.DRAINING);
    await worker.backend.close();
    await worker.nc.close();
  });
});

describe("state-change telemetry", () => {
  let worker: TestWorker;
  const reports = () => telemetryLog.all.filter((t) => t.workerId === "reporter");

  beforeAll(async () => {
    worker = await startTestWorker({
      natsUrl: server.url,
      workerId: "reporter",
      backend: new ScriptedBackend({
        slots: 1,
        tokenDelayMs: (req) => ((req.messages?.at(-1)?.content ?? "").startsWith("slow") ? 5 : 0),
      }),
      // Far longer than any wait below: every report these tests see was sent because the state changed.
      telemetryIntervalMs: 600_000,
    });
    await pollUntil("reporter joined", () => latest("reporter"));
  });

  afterAll(async () => {
    await worker?.stop();
  });

  it("reports busy, then ready with the finished request counted, without waiting for the interval", async () => {
    const inFlight = client.infer("reporter", chatRequest(`slow ${words(200)}`));
    await pollUntil("busy reported", () => latest("reporter")?.state === WorkerState.BUSY);
    await inFlight;
    const ready = await pollUntil("ready reported", () => {
      const t = latest("reporter");
      return t?.state === WorkerState.READY && t.requests?.completed === 1n ? t : undefined;
    });
    expect(ready.slots?.active).toBe(0);
  });

  it("sends one report for a request that starts and ends within one event-loop turn", async () => {
    const before = latest("reporter");
    expect(before?.state).toBe(WorkerState.READY);
    const result = await client.infer("reporter", chatRequest("instant answer"));
    expect(result.text).toBe("instant answer");
    // Discovery answers with one more report; once it is here, everything sent before it is here too.
    client.discover("count the reports");
    const since = await pollUntil("the discovery report", () => {
      const newer = reports().filter((t) => t.sequence > (before?.sequence ?? 0n));
      return newer.length >= 2 ? newer : undefined;
    });
    // busy → ready inside one turn: a single state report (ready, with the request counted), then discovery.
    expect(since.map((t) => t.sequence - (before?.sequence ?? 0n))).toEqual([1n, 2n]);
    expect(since[0]?.state).toBe(WorkerState.READY);
    expect(since[0]?.requests?.completed).toBe((before?.requests?.completed ?? 0n) + 1n);
  });
});

describe("NATS restart", () => {
  it("reconnects by itself and resumes telemetry", async () => {
    const worker = await startTestWorker({
      natsUrl: server.url,
      workerId: "phoenix",
      backend: new ScriptedBackend(),
    });
    await pollUntil("phoenix joined", () => latest("phoenix"));
    await server.restart();
    // A fresh observer that only exists after the restart must hear from the worker.
    const observer = await connectNats({ servers: server.url, name: "observer" });
    const seen: WorkerTelemetry[] = [];
    subscribeTyped(observer, subjects.telemetry("phoenix"), codecs.telemetry, {
      onMessage: (t) => {
        seen.push(t);
      },
      onError: () => {},
    });
    await pollUntil("telemetry after the restart", () => seen.length > 0, { timeoutMs: 20_000 });
    const result = await createWorkerClient(observer).infer("phoenix", chatRequest("back again"));
    expect(result.text).toBe("back again");
    await observer.close();
    await worker.stop();
  });
});
