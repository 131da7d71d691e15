/**
 * The worker client's own behaviour on a real nats-server, against workers scripted frame by frame at the
 * NATS edge (real protobuf frames through our codecs, sent when and where a test says): many calls sharing
 * one reply subscription, frames that come too late or do not decode, idle and cancel time-outs, and the
 * reply subscription going away.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatRole } from "../../proto/gen/conclave/v1/common_pb.js";
import {
  FinishReason,
  type InferenceFrame,
  InferenceFrameSchema,
  type InferenceRequest,
  InferenceRequestSchema,
} from "../../proto/gen/conclave/v1/inference_pb.js";
import { codecs } from "../../proto/src/codecs.js";
import { ConclaveError, ErrorCode } from "../../proto/src/errors.js";
import { newRequestId } from "../../proto/src/ids.js";
import {
  connectNats,
  type NatsConnection,
  publishMessage,
  type Subscription,
  subscribeTyped,
} from "../../proto/src/nats-io.js";
import { subjects } from "../../proto/src/subjects.js";
import { createWorkerClient, type WorkerClient } from "../../proto/src/worker-client.js";
import { type NatsServerHandle, startNatsServer } from "../support/nats-server.js";
import { pollUntil } from "../support/poll.js";

function request(text: string): InferenceRequest {
  return create(InferenceRequestSchema, {
    requestId: newRequestId(),
    input: { case: "chat", value: { messages: [{ role: ChatRole.USER, content: text }] } },
    maxTokens: 64,
    stream: true,
  });
}

const chunkFrame = (req: InferenceRequest, sequence: number, text: string): InferenceFrame =>
  create(InferenceFrameSchema, {
    frame: { case: "chunk", value: { requestId: req.requestId, sequence, text, tokenCount: 1 } },
  });

const resultFrame = (req: InferenceRequest, text: string): InferenceFrame =>
  create(InferenceFrameSchema, {
    frame: { case: "result", value: { requestId: req.requestId, text, finishReason: FinishReason.STOP } },
  });

interface Received {
  req: InferenceRequest;
  reply: string;
}

/**
 * A worker scripted at the NATS edge: it serves `<workerId>.infer` on its own connection and hands every
 * request (with its reply subject) to the test, which answers with real frames through `send`.
 */
class ScriptedWorker {
  readonly received: Received[] = [];
  readonly cancels: string[] = [];
  readonly #subs: Subscription[];

  constructor(
    readonly nc: NatsConnection,
    workerId: string,
    onRequest: (r: Received, w: ScriptedWorker) => void = () => undefined,
  ) {
    this.#subs = [
      subscribeTyped(nc, subjects.worker(workerId, "infer"), codecs.inferenceRequest, {
        onMessage: (req, msg) => {
          const r = { req, reply: msg.reply ?? "" };
          this.received.push(r);
          onRequest(r, this);
        },
        onError: () => undefined,
      }),
      subscribeTyped(nc, subjects.worker(workerId, "cancel"), codecs.cancel, {
        onMessage: (c) => {
          this.cancels.push(c.requestId);
        },
        onError: () => undefined,
      }),
    ];
  }

  /** Waits until the server has its subscriptions, so requests sent after this reach it. */
  async ready(): Promise<this> {
    await this.nc.flush();
    return this;
  }

  send(reply: string, frame: InferenceFrame): void {
    publishMessage(this.nc, reply, codecs.inferenceFrame, frame);
  }

  sendBytes(reply: string, bytes: Uint8Array): void {
    this.nc.publish(reply, bytes);
  }

  stop(): void {
    for (const sub of this.#subs) sub.unsubscribe();
  }
}

/** Everything of a reply subject but its last token: the subscription it was answered through. */
const inboxOf = (reply: string) => reply.slice(0, reply.lastIndexOf("."));

/** Settles a promise into a value the test can inspect, without an unhandled rejection in between. */
function outcome<T>(p: Promise<T>): Promise<{ value?: T; error?: unknown; at: number }> {
  return p.then(
    (value) => ({ value, at: performance.now() }),
    (error: unknown) => ({ error, at: performance.now() }),
  );
}

describe("worker client on an open nats-server", () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let workerNc: NatsConnection;
  let client: WorkerClient;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectNats({ servers: server.url, name: "client" });
    workerNc = await connectNats({ servers: server.url, name: "scripted-worker" });
    client = createWorkerClient(nc);
  });

  afterAll(async () => {
    await workerNc?.close();
    await nc?.close();
    await server?.stop();
  });

  it("gives each of many concurrent calls its own interleaved frames, through one reply subscription", async () => {
    const calls = 16;
    const rounds = 5;
    const worker = await new ScriptedWorker(workerNc, "mux", (_, w) => {
      if (w.received.length < calls) return;
      // Every request is in: answer them all at once, chunk by chunk across the calls, results last-first.
      const all = [...w.received].reverse();
      for (let seq = 0; seq < rounds; seq++)
        for (const r of all) w.send(r.reply, chunkFrame(r.req, seq, `${r.req.requestId}:${seq} `));
      for (const r of all) w.send(r.reply, resultFrame(r.req, `done ${r.req.requestId}`));
    }).ready();
    const reqs = Array.from({ length: calls }, (_, i) => request(`call ${i}`));
    const chunks = new Map<string, string[]>(reqs.map((r) => [r.requestId, []]));
    const results = await Promise.all(
      reqs.map((req) =>
        client.infer("mux", req, { onChunk: (c) => chunks.get(req.requestId)?.push(c.text) }),
      ),
    );
    reqs.forEach((req, i) => {
      expect(results[i]?.text).toBe(`done ${req.requestId}`);
      expect(chunks.get(req.requestId)).toEqual(
        Array.from({ length: rounds }, (_, seq) => `${req.requestId}:${seq} `),
      );
    });
    const replies = worker.received.map((r) => r.reply);
    expect(new Set(replies).size).toBe(calls);
    expect(new Set(replies.map(inboxOf))).toEqual(new Set([inboxOf(replies[0] ?? "")]));
    expect(replies[0]).toMatch(/^_INBOX\.[^.]+\.[^.]+$/);

    // Later calls keep using the same subscription.
    worker.stop();
    const again = await new ScriptedWorker(workerNc, "mux", (r, w) =>
      w.send(r.reply, resultFrame(r.req, "again")),
    ).ready();
    expect((await client.infer("mux", request("later"))).text).toBe("again");
    expect(inboxOf(again.received[0]?.reply ?? "")).toBe(inboxOf(replies[0] ?? ""));
    again.stop();
  });

  it("drops frames that arrive after their call has settled", async () => {
    const worker = await new ScriptedWorker(workerNc, "late", (r, w) => {
      if (w.received.length === 1) {
        w.send(r.reply, resultFrame(r.req, "first"));
        // Too late: the call above has settled. None of these may reach anyone.
        w.send(r.reply, chunkFrame(r.req, 0, "late chunk"));
        w.send(r.reply, resultFrame(r.req, "second"));
        w.sendBytes(r.reply, new Uint8Array([1, 2, 3, 250]));
      } else {
        w.send(r.reply, chunkFrame(r.req, 0, "fresh"));
        w.send(r.reply, resultFrame(r.req, "next call"));
      }
    }).ready();
    const firstChunks: string[] = [];
    const first = await client.infer("late", request("one"), { onChunk: (c) => firstChunks.push(c.text) });
    expect(first.text).toBe("first");
    // Frames from one publisher arrive in order: once the next call is answered, the late ones were handled.
    const nextChunks: string[] = [];
    const next = await client.infer("late", request("two"), { onChunk: (c) => nextChunks.push(c.text) });
    expect(next.text).toBe("next call");
    expect(nextChunks).toEqual(["fresh"]);
    expect(firstChunks).toEqual([]);
    worker.stop();
  });

  it("fails only the call whose frame does not decode", async () => {
    const worker = await new ScriptedWorker(workerNc, "garbled", (_, w) => {
      if (w.received.length < 2) return;
      const [bad, good] = w.received as [Received, Received];
      w.sendBytes(bad.reply, new Uint8Array([1, 2, 3, 250]));
      w.send(good.reply, chunkFrame(good.req, 0, "ok"));
      w.send(good.reply, resultFrame(good.req, "fine"));
    }).ready();
    const badReq = request("bad");
    const bad = outcome(client.infer("garbled", badReq));
    // The second request goes out only once the first is at the worker, so the worker knows which is which.
    await pollUntil("the first request at the worker", () => worker.received.length === 1);
    const good = await client.infer("garbled", request("good"));
    expect(good.text).toBe("fine");
    const failed = await bad;
    expect(failed.error).toBeInstanceOf(ConclaveError);
    expect((failed.error as ConclaveError).code).toBe(ErrorCode.DECODE);
    expect(worker.received[0]?.req.requestId).toBe(badReq.requestId);
    worker.stop();
  });

  it("settles with a typed error when a stream skips a chunk", async () => {
    const worker = await new ScriptedWorker(workerNc, "skipper", (r, w) => {
      w.send(r.reply, chunkFrame(r.req, 0, "a"));
      w.send(r.reply, chunkFrame(r.req, 2, "c"));
      w.send(r.reply, resultFrame(r.req, "ac"));
    }).ready();
    await expect(client.infer("skipper", request("x"))).rejects.toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      message: expect.stringMatching(/lost chunks \(expected 1, got 2\)/),
    });
    worker.stop();
  });

  it("keeps a streaming call alive past the idle time-out while chunks come, and gives up that long after the last", async () => {
    const idleTimeoutMs = 500;
    const chunkCount = 20;
    const gapMs = 30;
    const worker = await new ScriptedWorker(workerNc, "goes-quiet", (r, w) => {
      void (async () => {
        for (let seq = 0; seq < chunkCount; seq++) {
          w.send(r.reply, chunkFrame(r.req, seq, "."));
          await sleep(gapMs);
        }
        // …and then nothing more, as a worker that died mid-stream.
      })();
    }).ready();
    const started = performance.now();
    let lastChunkAt = 0;
    let chunks = 0;
    const settled = await outcome(
      client.infer("goes-quiet", request("talk, then stop"), {
        idleTimeoutMs,
        onChunk: () => {
          chunks += 1;
          lastChunkAt = performance.now();
        },
      }),
    );
    expect(chunks).toBe(chunkCount);
    // The stream outlived one idle period, so chunks kept the call alive…
    expect(lastChunkAt - started).toBeGreaterThan(idleTimeoutMs);
    // …and it was silence since the last chunk, not the call's age, that ended it.
    expect(settled.at - lastChunkAt).toBeGreaterThanOrEqual(idleTimeoutMs - 2);
    expect(settled.error).toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      retryable: true,
      message: expect.stringMatching(/goes-quiet sent nothing for 500 ms/),
    });
    worker.stop();
  });

  it("after an abort, sends a cancel and waits only the cancel grace, however many chunks still come", async () => {
    let streaming = true;
    const worker = await new ScriptedWorker(workerNc, "ignores-cancel", (r, w) => {
      void (async () => {
        // Ignores the cancel and streams on for far longer than the grace.
        for (let seq = 0; seq < 80 && streaming; seq++) {
          w.send(r.reply, chunkFrame(r.req, seq, "."));
          await sleep(50);
        }
      })();
    }).ready();
    const controller = new AbortController();
    const req = request("stop soon");
    let abortedAt = 0;
    let chunksAfterAbort = 0;
    const settled = await outcome(
      client.infer("ignores-cancel", req, {
        signal: controller.signal,
        idleTimeoutMs: 100,
        onChunk: (c) => {
          if (controller.signal.aborted) chunksAfterAbort += 1;
          if (c.sequence === 2) {
            abortedAt = performance.now();
            controller.abort();
          }
        },
      }),
    );
    streaming = false;
    expect(settled.error).toMatchObject({ code: ErrorCode.CANCELLED });
    expect(settled.at - abortedAt).toBeGreaterThanOrEqual(1990);
    expect(chunksAfterAbort).toBeGreaterThan(0);
    expect(worker.cancels).toEqual([req.requestId]);
    worker.stop();
  });

  it("after an abort to a silent worker, waits the cancel grace rather than the shorter idle time-out", async () => {
    const worker = await new ScriptedWorker(workerNc, "silent-after-one", (r, w) =>
      w.send(r.reply, chunkFrame(r.req, 0, ".")),
    ).ready();
    const controller = new AbortController();
    let abortedAt = 0;
    const settled = await outcome(
      client.infer("silent-after-one", request("x"), {
        signal: controller.signal,
        idleTimeoutMs: 100,
        onChunk: () => {
          abortedAt = performance.now();
          controller.abort();
        },
      }),
    );
    expect(settled.error).toMatchObject({ code: ErrorCode.CANCELLED });
    expect(settled.at - abortedAt).toBeGreaterThanOrEqual(1990);
    worker.stop();
  });

  it("fails with the error an onChunk callback throws, and keeps serving other calls", async () => {
    const worker = await new ScriptedWorker(workerNc, "chunky", (r, w) => {
      w.send(r.reply, chunkFrame(r.req, 0, "x"));
      w.send(r.reply, resultFrame(r.req, "x"));
    }).ready();
    const boom = new ConclaveError(ErrorCode.INVALID_OUTPUT, "the caller did not like it");
    await expect(
      client.infer("chunky", request("a"), {
        onChunk: () => {
          throw boom;
        },
      }),
    ).rejects.toBe(boom);
    expect((await client.infer("chunky", request("b"))).text).toBe("x");
    worker.stop();
  });

  it("fails every waiting call at once when its connection closes, and later calls too", async () => {
    const own = await connectNats({ servers: server.url, name: "closing-client" });
    const closing = createWorkerClient(own);
    const worker = await new ScriptedWorker(workerNc, "never-answers").ready();
    const pending = [1, 2, 3].map((i) =>
      outcome(closing.infer("never-answers", request(`wait ${i}`), { idleTimeoutMs: 600_000 })),
    );
    await pollUntil("three requests at the worker", () => worker.received.length === 3);
    await own.close();
    for (const settled of await Promise.all(pending)) {
      expect(settled.error).toMatchObject({
        code: ErrorCode.UNAVAILABLE,
        retryable: true,
        message: expect.stringMatching(/lost the reply subscription/),
      });
    }
    await expect(closing.infer("never-answers", request("after"))).rejects.toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      message: expect.stringMatching(/cannot subscribe to its replies/),
    });
    worker.stop();
  }, 15_000);
});

describe("worker client under NATS permissions", () => {
  let dir: string;
  let configFile: string;
  let server: NatsServerHandle;
  let workerNc: NatsConnection;
  let worker: ScriptedWorker;

  /** A caller that may subscribe only under the inbox prefixes given; the worker may do anything. */
  const config = (callerInboxes: readonly string[]) => `
pid_file: ${JSON.stringify(join(dir, "nats.pid"))}
authorization: {
  users: [
    { user: "caller", password: "c", permissions: { publish: ["conclave.v1.>"], subscribe: ${JSON.stringify(callerInboxes)} } },
    { user: "worker", password: "w" }
  ]
}
`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "conclave-worker-client-"));
    configFile = join(dir, "nats.conf");
    writeFileSync(configFile, config(["_CALLER.>"]));
    server = await startNatsServer({ configFile });
    workerNc = await connectNats({ servers: server.url, name: "worker", user: "worker", pass: "w" });
    worker = await new ScriptedWorker(workerNc, "guarded", (r, w) =>
      w.send(r.reply, resultFrame(r.req, "answered")),
    ).ready();
  });

  afterAll(async () => {
    worker?.stop();
    await workerNc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("replies under the connection's own inbox prefix", async () => {
    // connectNats sets no prefix; a deployment that needs one connects with nats.js's own option.
    const nc = await connect({ servers: server.url, user: "caller", pass: "c", inboxPrefix: "_CALLER" });
    try {
      const before = worker.received.length;
      expect((await createWorkerClient(nc).infer("guarded", request("hi"))).text).toBe("answered");
      expect(worker.received[before]?.reply).toMatch(/^_CALLER\.[^.]+\.[^.]+$/);
    } finally {
      await nc.close();
    }
  });

  it("fails calls at once when the server refuses the reply subscription, and subscribes afresh later", async () => {
    const nc = await connectNats({ servers: server.url, name: "caller", user: "caller", pass: "c" });
    try {
      const client = createWorkerClient(nc);
      await expect(
        client.infer("guarded", request("refused"), { idleTimeoutMs: 600_000 }),
      ).rejects.toMatchObject({
        code: ErrorCode.UNAVAILABLE,
        message: expect.stringMatching(/lost the reply subscription _INBOX\..*permission/i),
      });
      // Allow the default inbox and reload the server's configuration in place (the connection stays).
      writeFileSync(configFile, config(["_CALLER.>", "_INBOX.>"]));
      process.kill(Number(readFileSync(join(dir, "nats.pid"), "utf8").trim()), "SIGHUP");
      const answer = await pollUntil("an answer once the reload allows the inbox", () =>
        client.infer("guarded", request("allowed?"), { idleTimeoutMs: 600_000 }).catch(() => undefined),
      );
      expect(answer.text).toBe("answered");
      expect(nc.isClosed()).toBe(false);
    } finally {
      await nc.close();
    }
  }, 20_000);
});
