/**
 * The openai backend against a real OpenAI-compatible HTTP server with real inference behind it
 * (test/support/openai-test-server.ts, node-llama-cpp on a tiny generated model).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackendError, ModelStartupError } from "../../worker/src/backends/errors.js";
import { createLlamaBackend } from "../../worker/src/backends/llama-backend.js";
import { createOpenAiBackend, type OpenAiBackend } from "../../worker/src/backends/openai-backend.js";
import type { JsonSchema } from "../../worker/src/backends/types.js";
import { type OpenAiTestServer, startOpenAiTestServer } from "../support/openai-test-server.js";
import { pollUntil } from "../support/poll.js";
import { writeTinyLlamaGguf } from "../support/tiny-model.js";

const caught = async (p: Promise<unknown>): Promise<BackendError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendError);
  return err as BackendError;
};

/** A port nothing listens on: bind, read it, close. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const schema: JsonSchema = {
  type: "object",
  properties: {
    answer: { type: "string", maxLength: 10 },
    score: { type: "integer" },
    tags: { type: "array", items: { type: "string", maxLength: 5 }, maxItems: 2 },
  },
  required: ["answer", "score", "tags"],
  additionalProperties: false,
};

describe("openai backend against a real OpenAI-compatible server", () => {
  let dir: string;
  let model: string;
  let server: OpenAiTestServer;
  let backend: OpenAiBackend;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "conclave-openai-"));
    model = (await writeTinyLlamaGguf(join(dir, "tiny.gguf"), { seed: 5, contextLength: 2048 })).path;
    server = await startOpenAiTestServer({
      modelPath: model,
      modelId: "tiny-test",
      contextSize: 2048,
      parallel: 2,
    });
    backend = await createOpenAiBackend({ baseUrl: server.url, parallel: 2, contextLength: 2048 });
  });

  /** The JSON body of the n-th most recent request the server received. */
  const sentBody = (back = 1): Record<string, unknown> => {
    const request = server.requests.at(-back);
    if (request === undefined) throw new Error("the server received no request");
    return request.body as Record<string, unknown>;
  };

  afterAll(async () => {
    await backend?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("describes the upstream model from /v1/models and probes scoring support", () => {
    expect(backend.descriptor()).toMatchObject({
      name: "tiny-test",
      backend: "openai",
      contextLength: 2048,
      trainContextLength: 2048,
      supportsScoring: true,
      source: server.url,
    });
    expect(backend.descriptor().parameterCount).toBeGreaterThan(0);
  });

  it("streams a chat answer over SSE: several pieces, concatenation equals the text, usage from the server", async () => {
    const pieces: string[] = [];
    const result = await backend.generate(
      { messages: [{ role: "user", content: "hello model" }], maxTokens: 20, sampling: { temperature: 0 } },
      { onText: (p) => pieces.push(p) },
    );
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join("")).toBe(result.text);
    expect(result).toMatchObject({ finishReason: "length", completionTokens: 20 });
    expect(result.promptTokens).toBeGreaterThan(0);
    expect(sentBody()).toMatchObject({ model: "tiny-test", stream: true, max_tokens: 20, temperature: 0 });
  });

  it("answers without streaming, with the same greedy text as the stream", async () => {
    const req = { prompt: "hello world", maxTokens: 12, sampling: { temperature: 0 } };
    const plain = await backend.generate(req);
    const pieces: string[] = [];
    const streamed = await backend.generate(req, { onText: (p) => pieces.push(p) });
    expect(plain.text).toBe(streamed.text);
    expect(plain).toMatchObject({ finishReason: "length", completionTokens: 12 });
    expect(server.requests.at(-2)?.path).toBe("/v1/completions");
    expect(sentBody(2).stream).toBe(false);
  });

  it("asks for json_schema output and validates it like the llama backend", async () => {
    const result = await backend.generate({
      messages: [{ role: "user", content: "answer in JSON" }],
      maxTokens: 200,
      jsonSchema: schema,
    });
    expect(result.json).toMatchObject({ valid: true });
    expect(sentBody().response_format).toEqual({
      type: "json_schema",
      json_schema: { name: "output", schema, strict: true },
    });
  });

  it("uses plain JSON mode when configured, and reports output that misses the schema as invalid_output", async () => {
    const jsonObject = await createOpenAiBackend({
      baseUrl: server.url,
      jsonMode: "json_object",
      probeScoring: false,
    });
    try {
      const result = await jsonObject.generate({ prompt: "hello", maxTokens: 60, jsonSchema: schema });
      expect(sentBody().response_format).toEqual({
        type: "json_object",
      });
      // Any JSON the grammar allowed is parsed; the schema is still checked, never assumed.
      expect(result.json).toBeDefined();
      if (result.json?.valid === false) expect(result.json.code).toBe("invalid_output");
      const cut = await jsonObject.generate({ prompt: "hello", maxTokens: 3, jsonSchema: schema });
      expect(cut.json).toMatchObject({ valid: false, code: "invalid_output" });
    } finally {
      await jsonObject.close();
    }
  });

  it("scores raw continuations with echoed logprobs, agreeing with in-process node-llama-cpp", async () => {
    const prompt = "hello world, the model";
    const candidates = [" is the answer", " and hello"];
    const remote = await backend.score({ prompt, candidates });
    const local = await createLlamaBackend({ modelPath: model, contextSize: 256, threads: 1 });
    try {
      const inProcess = await local.score({ prompt, candidates });
      for (const [c] of candidates.entries()) {
        const r = remote.candidates[c];
        const l = inProcess.candidates[c];
        expect(r?.tokens.map((t) => t.text).join("")).toBe(candidates[c]);
        expect(r?.tokens).toHaveLength(l?.tokens.length ?? -1);
        expect(Math.abs((r?.totalLogprob ?? 0) - (l?.totalLogprob ?? 1))).toBeLessThan(2e-3);
      }
    } finally {
      await local.close();
    }
  });

  it("refuses scoring it cannot do as unsupported", async () => {
    expect(
      (await caught(backend.score({ messages: [{ role: "user", content: "x" }], candidates: ["y"] }))).code,
    ).toBe("unsupported");
    expect((await caught(backend.score({ prompt: "x", candidates: ["y"], appendEos: true }))).code).toBe(
      "unsupported",
    );
  });

  it("stops at once on cancellation mid-stream, and the server stops generating", async () => {
    const before = server.abortedGenerations();
    const controller = new AbortController();
    const pieces: string[] = [];
    const result = await backend.generate(
      { prompt: "hello", maxTokens: 1800 },
      {
        signal: controller.signal,
        onText: (p) => {
          pieces.push(p);
          if (pieces.length === 2) controller.abort();
        },
      },
    );
    expect(result.finishReason).toBe("cancelled");
    expect(result.text).toBe(pieces.join(""));
    expect(pieces.length).toBeLessThan(1800);
    await pollUntil("the server to notice the disconnect", () => server.abortedGenerations() > before);
  });

  it("maps an over-long prompt to context_overflow", async () => {
    const err = await caught(backend.generate({ prompt: "hello world ".repeat(2000), maxTokens: 4 }));
    expect(err.code).toBe("context_overflow");
  });

  it("fails fast with upstream_unreachable when nothing listens", async () => {
    const port = await closedPort();
    const err = await createOpenAiBackend({ baseUrl: `http://127.0.0.1:${port}/v1` }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelStartupError);
    expect((err as ModelStartupError).code).toBe("upstream_unreachable");
    expect((err as ModelStartupError).message).toContain(`http://127.0.0.1:${port}/v1`);
    expect((err as ModelStartupError).message).toContain("ECONNREFUSED");
  });

  it("names the models the server has when the configured one is absent", async () => {
    const err = await createOpenAiBackend({ baseUrl: server.url, model: "llama-70b" }).catch(
      (e: unknown) => e,
    );
    expect((err as ModelStartupError).code).toBe("bad_config");
    expect((err as ModelStartupError).details).toEqual(["tiny-test"]);
  });

  it("answers unavailable when the upstream goes away after start", async () => {
    const second = await startOpenAiTestServer({ modelPath: model, contextSize: 256, parallel: 1 });
    const client = await createOpenAiBackend({ baseUrl: second.url, probeScoring: false });
    await second.close();
    try {
      expect((await caught(client.generate({ prompt: "hello", maxTokens: 2 }))).code).toBe("unavailable");
    } finally {
      await client.close();
    }
  });
});
