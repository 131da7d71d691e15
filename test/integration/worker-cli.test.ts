/**
 * `conclave worker` as a user runs it: the real binary as a child process, a real nats-server, real
 * node-llama-cpp inference (stories260K from ../shared/models, else a tiny GGUF written here).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatRole } from "../../proto/gen/conclave/v1/common_pb.js";
import {
  FinishReason,
  InferenceRequestSchema,
  ScoreRequestSchema,
  type TokenChunk,
} from "../../proto/gen/conclave/v1/inference_pb.js";
import { WorkerState } from "../../proto/gen/conclave/v1/telemetry_pb.js";
import { newRequestId } from "../../proto/src/ids.js";
import { connectNats, type NatsConnection } from "../../proto/src/nats-io.js";
import { createWorkerClient, type WorkerClient } from "../../proto/src/worker-client.js";
import { killStrayConclaves, type RunningCli, runConclave, spawnConclave } from "../support/cli.js";
import { type NatsServerHandle, startNatsServer } from "../support/nats-server.js";
import { pollUntil } from "../support/poll.js";
import { recordTelemetry, type TelemetryLog } from "../support/telemetry-log.js";
import {
  findTestModel,
  writeNotAGguf,
  writeTinyLlamaGguf,
  writeTruncatedGguf,
} from "../support/tiny-model.js";

let server: NatsServerHandle;
let nc: NatsConnection;
let client: WorkerClient;
let dir: string;
let model: string;
let telemetryLog: TelemetryLog;
const latest = (id: string) => telemetryLog.latest(id);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "conclave-worker-cli-"));
  model =
    findTestModel("stories260K.gguf") ?? (await writeTinyLlamaGguf(join(dir, "tiny.gguf"), { seed: 3 })).path;
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: "worker-cli-test" });
  client = createWorkerClient(nc);
  telemetryLog = await recordTelemetry(nc);
});

afterAll(async () => {
  await killStrayConclaves();
  await nc?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("conclave worker with a real model", () => {
  let worker: RunningCli;

  beforeAll(async () => {
    worker = spawnConclave([
      "worker",
      "--model",
      model,
      "--nats",
      server.url,
      "--id",
      "real-1",
      "--threads",
      "1",
      "--context",
      "512",
      "--parallel",
      "2",
      "--telemetry-interval",
      "300ms",
      "--log-level",
      "warn",
    ]);
    await pollUntil("real-1 ready", () => latest("real-1")?.state === WorkerState.READY, {
      timeoutMs: 45_000,
    });
  }, 60_000);

  afterAll(async () => {
    worker?.kill("SIGKILL");
  });

  it("joins with the model descriptor from the GGUF header and measured throughput", () => {
    const t = latest("real-1")!;
    expect(t.model?.architecture).toBe("llama");
    expect(t.model?.contextLength).toBe(512);
    expect(Number(t.model?.parameterCount)).toBeGreaterThan(0);
    expect(Number(t.model?.fileSizeBytes)).toBeGreaterThan(0);
    expect(t.model?.source).toBe(model);
    expect(t.slots?.total).toBe(2);
    expect(t.throughput?.generationTokensPerSecond).toBeGreaterThan(0);
    expect(t.throughput?.prefillTokensPerSecond).toBeGreaterThan(0);
    expect(Number(t.memory?.ramTotalBytes)).toBeGreaterThan(0);
    expect(Number(t.memory?.processRssBytes)).toBeGreaterThan(0);
  });

  it("streams a real generation over NATS", async () => {
    const chunks: TokenChunk[] = [];
    const result = await client.infer(
      "real-1",
      create(InferenceRequestSchema, {
        requestId: newRequestId(),
        input: { case: "rawPrompt", value: "Once upon a time" },
        maxTokens: 48,
        sampling: { temperature: 0 },
        stream: true,
      }),
      { onChunk: (c) => chunks.push(c) },
    );
    expect(result.usage?.completionTokens).toBeGreaterThan(0);
    expect(result.text.length).toBeGreaterThan(0);
    expect(chunks.map((c) => c.text).join("")).toBe(result.text);
    expect([FinishReason.STOP, FinishReason.LENGTH]).toContain(result.finishReason);
  });

  it("returns structured output that validates against its schema, or says it is invalid", async () => {
    const schema = {
      type: "object",
      properties: {
        answer: { type: "string", maxLength: 40 },
        score: { type: "integer", minimum: 0, maximum: 9 },
      },
      required: ["answer", "score"],
      additionalProperties: false,
    };
    const result = await client.infer(
      "real-1",
      create(InferenceRequestSchema, {
        requestId: newRequestId(),
        input: { case: "chat", value: { messages: [{ role: ChatRole.USER, content: "Rate the story." }] } },
        maxTokens: 120,
        jsonSchema: JSON.stringify(schema),
        sampling: { temperature: 0 },
      }),
    );
    if (result.jsonValid) {
      const parsed = JSON.parse(result.text) as { answer: unknown; score: unknown };
      expect(typeof parsed.answer).toBe("string");
      expect(Number.isInteger(parsed.score)).toBe(true);
    } else {
      expect(result.jsonProblems.length).toBeGreaterThan(0);
    }
  });

  it("stops mid-stream when cancelled", async () => {
    const controller = new AbortController();
    let seen = 0;
    const result = await client.infer(
      "real-1",
      create(InferenceRequestSchema, {
        requestId: newRequestId(),
        input: { case: "rawPrompt", value: "Once upon a time" },
        maxTokens: 400,
        sampling: { temperature: 0.8, seed: 1 },
        stream: true,
      }),
      {
        signal: controller.signal,
        onChunk: () => {
          seen += 1;
          if (seen === 1) controller.abort();
        },
      },
    );
    expect(result.finishReason).toBe(FinishReason.CANCELLED);
    expect(result.usage?.completionTokens).toBeLessThan(400);
  });

  it("scores candidates exactly as node-llama-cpp does in-process", async () => {
    const prompt = "Once upon a time, there was a little";
    const candidates = [" girl", " dog named Max"];
    const remote = await client.score(
      "real-1",
      create(ScoreRequestSchema, {
        requestId: newRequestId(),
        input: { case: "rawPrompt", value: prompt },
        candidates,
      }),
    );
    // Reference: the same model evaluated here, one token at a time with full probabilities.
    const llama = await getLlama({ gpu: false, maxThreads: 1, logLevel: LlamaLogLevel.error });
    const m = await llama.loadModel({ modelPath: model });
    const ctx = await m.createContext({ contextSize: 512, threads: 1 });
    try {
      for (const [i, candidate] of candidates.entries()) {
        const seq = ctx.getSequence();
        // Tokenized as LlamaCompletion does for raw prompts: BOS, then no dummy-prefix space.
        const promptTokens = m.tokenize(prompt, false, "trimLeadingSpace");
        const withBos =
          m.tokens.bos !== null && m.tokens.shouldPrependBosToken
            ? [m.tokens.bos, ...promptTokens]
            : promptTokens;
        const candTokens = m.tokenize(candidate, false, "trimLeadingSpace");
        let expected = 0;
        let input = withBos;
        for (const token of candTokens) {
          const res = await seq.controlledEvaluate(
            input.map((t, k) =>
              k === input.length - 1 ? [t, { generateNext: { probabilities: true } }] : t,
            ),
          );
          const probs = res.at(-1)?.next?.probabilities;
          expected += Math.log(probs?.get(token) ?? Number.NaN);
          input = [token];
        }
        await seq.dispose();
        expect(remote.candidates[i]?.tokens.map((t) => t.tokenId)).toEqual(candTokens);
        expect(Math.abs((remote.candidates[i]?.totalLogprob ?? 0) - expected)).toBeLessThan(2e-3);
      }
    } finally {
      await ctx.dispose();
      await m.dispose();
    }
  });

  it("drains on SIGTERM: announces leaving and exits 0", async () => {
    worker.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    expect(latest("real-1")?.state).toBe(WorkerState.LEAVING);
  });
});

describe("conclave worker start-up failures", () => {
  const nats = () => ["--nats", server.url, "--threads", "1", "--log-level", "silent"];

  it("names a missing model file", async () => {
    const r = await runConclave(["worker", "--model", join(dir, "nope.gguf"), ...nats()]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/model file not found: .*nope\.gguf/);
  });

  it("names a file that is not a GGUF", async () => {
    const { path } = await writeNotAGguf(join(dir, "text.gguf"));
    const r = await runConclave(["worker", "--model", path, ...nats()]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/not a GGUF model file/);
  });

  it("names a truncated GGUF", async () => {
    const { path } = await writeTruncatedGguf(join(dir, "cut.gguf"));
    const r = await runConclave(["worker", "--model", path, ...nats()]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/truncated/i);
  });

  it("names an unreachable upstream server", async () => {
    const r = await runConclave([
      "worker",
      "--backend",
      "openai",
      "--upstream",
      "http://127.0.0.1:9/v1",
      ...nats(),
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/cannot reach the upstream server at http:\/\/127\.0\.0\.1:9\/v1/);
  });

  it("names an unreachable NATS server", async () => {
    const r = await runConclave([
      "worker",
      "--model",
      model,
      "--nats",
      "nats://127.0.0.1:9",
      "--log-level",
      "silent",
    ]);
    expect(r.code).toBe(69);
    expect(r.stderr).toMatch(/cannot reach NATS at nats:\/\/127\.0\.0\.1:9/);
  });

  it("lists every configuration problem at once", async () => {
    const r = await runConclave([
      "worker",
      "--parallel",
      "0",
      "--telemetry-interval",
      "soon",
      "--gpu-layers",
      "many",
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--parallel: 0 is below the minimum 1/);
    expect(r.stderr).toMatch(/--telemetry-interval: expected a duration/);
    expect(r.stderr).toMatch(/--model is required/);
    expect(r.stderr).toMatch(/--gpu-layers must be "auto" or a whole number/);
  });
});
