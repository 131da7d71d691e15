/**
 * The llama backend with real node-llama-cpp inference. Generic behaviour (streaming, structured output,
 * cancellation, deadlines, overflow, parallel slots) runs on a tiny model written on the fly, so a fresh
 * clone runs it; behaviour that needs trained weights (arithmetic, English text) uses the shared models and
 * is skipped, with the reason, when they are missing.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackendError } from "../../worker/src/backends/errors.js";
import { createLlamaBackend, type LlamaBackend } from "../../worker/src/backends/llama-backend.js";
import type { GenerateResult, JsonSchema, SlotStats } from "../../worker/src/backends/types.js";
import { runSelfBench } from "../../worker/src/self-bench.js";
import { pollUntil } from "../support/poll.js";
import { findTestModel, writeTinyLlamaGguf } from "../support/tiny-model.js";

const ARITH = findTestModel("arith-a-d64l2.gguf");
const STORIES = findTestModel("stories260K.gguf");
const TINY_RANDOM = findTestModel("llama-2-tiny-random.gguf");

const caught = async (p: Promise<unknown>): Promise<BackendError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendError);
  return err as BackendError;
};

describe("llama backend on a generated tiny model", () => {
  let dir: string;
  let tiny: string;
  let backend: LlamaBackend;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "conclave-llama-backend-"));
    tiny = (await writeTinyLlamaGguf(join(dir, "tiny.gguf"), { seed: 7, contextLength: 4096 })).path;
    backend = await createLlamaBackend({
      modelPath: tiny,
      contextSize: 4096,
      parallel: 2,
      threads: 1,
      queuePerSlot: 1,
    });
  });

  afterAll(async () => {
    await backend?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("describes the model from its GGUF header", () => {
    expect(backend.descriptor()).toMatchObject({
      name: "conclave-tiny-llama",
      architecture: "llama",
      quantization: "F32",
      contextLength: 4096,
      trainContextLength: 4096,
      backend: "llama",
      supportsScoring: true,
    });
    expect(backend.descriptor().parameterCount).toBeGreaterThan(0);
    expect(backend.slots).toBe(2);
    expect(backend.memory().modelBytes).toBeGreaterThan(0);
  });

  it("streams text pieces whose concatenation is the final text", async () => {
    const pieces: string[] = [];
    const result = await backend.generate(
      { prompt: "hello world", maxTokens: 24 },
      { onText: (piece) => pieces.push(piece) },
    );
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join("")).toBe(result.text);
    // The tiny model never emits EOS, so it runs to the limit.
    expect(result).toMatchObject({ finishReason: "length", completionTokens: 24 });
    expect(result.promptTokens).toBeGreaterThan(1);
  });

  it("streams a chat answer formatted by the model's chat wrapper", async () => {
    const pieces: string[] = [];
    const result = await backend.generate(
      {
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "hello model" },
        ],
        maxTokens: 16,
      },
      { onText: (piece) => pieces.push(piece) },
    );
    expect(pieces.join("")).toBe(result.text);
    expect(result.completionTokens).toBe(16);
    // The template adds its own tokens around the two messages.
    const raw = await backend.generate({ prompt: "Be brief. hello model", maxTokens: 1 });
    expect(result.promptTokens).toBeGreaterThan(raw.promptTokens);
  });

  it("is deterministic when greedy and reuses the cached prompt prefix", async () => {
    const a = await backend.generate({
      prompt: "the answer is",
      maxTokens: 12,
      sampling: { temperature: 0 },
    });
    const b = await backend.generate({
      prompt: "the answer is",
      maxTokens: 12,
      sampling: { temperature: 0 },
    });
    expect(b.text).toBe(a.text);
    expect(b.cachedPromptTokens).toBeGreaterThan(0);
  });

  it("stops at a stop string, which is not part of the text", async () => {
    const free = await backend.generate({ prompt: "a model", maxTokens: 40, sampling: { temperature: 0 } });
    const stop = free.text.slice(5, 7);
    expect(stop.length).toBe(2);
    const stopped = await backend.generate({
      prompt: "a model",
      maxTokens: 40,
      sampling: { temperature: 0, stop: [stop] },
    });
    expect(stopped.finishReason).toBe("stop");
    expect(stopped.text).toBe(free.text.slice(0, free.text.indexOf(stop)));
  });

  it("returns JSON that validates against a bounded schema", async () => {
    const schema: JsonSchema = {
      type: "object",
      properties: {
        answer: { type: "string", maxLength: 12 },
        tags: { type: "array", items: { type: "string", maxLength: 6 }, maxItems: 2 },
        ok: { type: "boolean" },
      },
      required: ["answer", "tags", "ok"],
      additionalProperties: false,
    };
    const result = await backend.generate({ prompt: "hello", maxTokens: 200, jsonSchema: schema });
    expect(result.finishReason).toBe("stop");
    expect(result.json).toMatchObject({ valid: true });
    if (result.json?.valid) {
      const value = result.json.value as { answer: string; tags: string[]; ok: boolean };
      expect(value.answer.length).toBeLessThanOrEqual(12);
      expect(value.tags.length).toBeLessThanOrEqual(2);
      expect(typeof value.ok).toBe("boolean");
    }
  });

  it("reports JSON cut off by maxTokens as invalid_output instead of accepting it", async () => {
    const result = await backend.generate({
      prompt: "hello",
      maxTokens: 4,
      jsonSchema: {
        type: "object",
        properties: { answer: { type: "string", maxLength: 40 } },
        required: ["answer"],
      },
    });
    expect(result.finishReason).toBe("length");
    expect(result.json).toMatchObject({ valid: false, code: "invalid_output" });
  });

  it("rejects an unusable schema as bad_request before generating", async () => {
    const err = await caught(
      backend.generate({ prompt: "hello", maxTokens: 4, jsonSchema: { type: "string", pattern: "^a+$" } }),
    );
    expect(err.code).toBe("bad_request");
    expect(err.details).toEqual(['jsonSchema #: unsupported keyword "pattern"']);
  });

  it("stops at once on cancellation mid-stream and returns the partial text", async () => {
    const controller = new AbortController();
    const pieces: string[] = [];
    const result = await backend.generate(
      { prompt: "hello", maxTokens: 3000 },
      {
        signal: controller.signal,
        onText: (piece) => {
          pieces.push(piece);
          if (pieces.length === 3) controller.abort();
        },
      },
    );
    expect(result.finishReason).toBe("cancelled");
    expect(result.text).toBe(pieces.join(""));
    expect(result.completionTokens).toBeGreaterThanOrEqual(3);
    expect(result.completionTokens).toBeLessThan(10);
  });

  it("stops at the deadline with finishReason deadline", async () => {
    const result = await backend.generate({ prompt: "hello", maxTokens: 3500, deadline: Date.now() + 250 });
    expect(result.finishReason).toBe("deadline");
    expect(result.completionTokens).toBeLessThan(3500);
  });

  it("refuses a request whose deadline has already passed", async () => {
    const err = await caught(backend.generate({ prompt: "hello", maxTokens: 4, deadline: Date.now() - 1 }));
    expect(err.code).toBe("deadline_exceeded");
  });

  it("refuses a prompt longer than the context with context_overflow, before evaluating", async () => {
    const prompt = "the model and the world ".repeat(1200);
    const err = await caught(backend.generate({ prompt, maxTokens: 4 }));
    expect(err.code).toBe("context_overflow");
    expect(err.details).toEqual(expect.arrayContaining(["contextSize=4096"]));
    const chatErr = await caught(
      backend.generate({ messages: [{ role: "user", content: prompt }], maxTokens: 4 }),
    );
    expect(chatErr.code).toBe("context_overflow");
  });

  it("runs two slots concurrently, then queues, then answers busy", async () => {
    const seen: SlotStats[] = [];
    const off = backend.onSlotChange((s) => seen.push(s));
    const first: string[] = [];
    const second: string[] = [];
    const piecesAtFinish: Record<string, number> = {};
    const controllers = [new AbortController(), new AbortController(), new AbortController()];
    const run = (
      name: string,
      sink: string[],
      other: string[],
      signal: AbortSignal,
    ): Promise<GenerateResult> =>
      backend
        .generate({ prompt: `hello ${name}`, maxTokens: 300 }, { signal, onText: (p) => sink.push(p) })
        .then((r) => {
          piecesAtFinish[name] = other.length;
          return r;
        });
    const a = run("a", first, second, controllers[0]!.signal);
    const b = run("b", second, first, controllers[1]!.signal);
    // Both slots are taken: one more waits in the queue (1 place per slot × 2), the next is refused.
    const queued = backend.generate({ prompt: "hello c", maxTokens: 2 }, { signal: controllers[2]!.signal });
    const queued2 = backend.generate({ prompt: "hello d", maxTokens: 2 });
    expect(backend.slotStats()).toMatchObject({ active: 2, queued: 2 });
    const busy = await caught(backend.generate({ prompt: "hello e", maxTokens: 2 }));
    expect(busy.code).toBe("busy");
    // A queued request that is cancelled leaves the queue with `cancelled`.
    controllers[2]!.abort();
    expect((await caught(queued)).code).toBe("cancelled");
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.completionTokens).toBe(300);
    expect(rb.completionTokens).toBe(300);
    // Interleaved: each saw the other's text before it finished.
    expect(piecesAtFinish.a).toBeGreaterThan(0);
    expect(piecesAtFinish.b).toBeGreaterThan(0);
    expect((await queued2).completionTokens).toBe(2);
    off();
    expect(seen.some((s) => s.active === 2)).toBe(true);
    expect(backend.slotStats()).toMatchObject({ active: 0, queued: 0 });
  });

  it("fails a request queued past its deadline with deadline_exceeded", async () => {
    const controller = new AbortController();
    const long = [
      backend.generate({ prompt: "one", maxTokens: 3500 }, { signal: controller.signal }),
      backend.generate({ prompt: "two", maxTokens: 3500 }, { signal: controller.signal }),
    ];
    const late = backend.generate({ prompt: "three", maxTokens: 2, deadline: Date.now() + 200 });
    expect((await caught(late)).code).toBe("deadline_exceeded");
    controller.abort();
    const results = await Promise.all(long);
    expect(results.map((r) => r.finishReason)).toEqual(["cancelled", "cancelled"]);
  });

  it("seeds throughput with a short self-benchmark", async () => {
    const bench = await runSelfBench(backend, { runs: 2, maxTokens: 32 });
    expect(bench.runs).toBe(2);
    expect(bench.prefillTokensPerSecond).toBeGreaterThan(0);
    expect(bench.generationTokensPerSecond).toBeGreaterThan(0);
    expect(bench.completionTokens).toBe(64);
  });
});

describe("llama backend close", () => {
  it("stops running requests, rejects queued and later ones, and frees the model", async () => {
    const dir = await mkdtemp(join(tmpdir(), "conclave-llama-close-"));
    try {
      const { path } = await writeTinyLlamaGguf(join(dir, "tiny.gguf"), { seed: 9, contextLength: 4096 });
      const backend = await createLlamaBackend({ modelPath: path, contextSize: 4096, threads: 1 });
      let started = false;
      const running = backend.generate(
        { prompt: "hello", maxTokens: 3500 },
        {
          onText: () => {
            started = true;
          },
        },
      );
      // Handled from the start: close() rejects it while the test is still awaiting close().
      const queued = caught(backend.generate({ prompt: "hello", maxTokens: 2 }));
      await pollUntil("the first request to stream", () => started);
      await backend.close();
      expect((await running).finishReason).toBe("cancelled");
      expect((await queued).code).toBe("unavailable");
      expect((await caught(backend.generate({ prompt: "hello", maxTokens: 2 }))).code).toBe("unavailable");
      await backend.close(); // idempotent
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// Needs a trained model from ../shared/models (a test cannot write one), and says so in its title when
// skipped; the same backend code also runs above on the GGUF this file writes itself.
describe.skipIf(ARITH === undefined)(
  "llama backend on arith-a-d64l2.gguf (skipped: ../shared/models/arith-a-d64l2.gguf is missing)",
  () => {
    let backend: LlamaBackend;
    beforeAll(async () => {
      backend = await createLlamaBackend({ modelPath: ARITH as string, contextSize: 64, threads: 1 });
    });
    afterAll(async () => {
      await backend?.close();
    });

    it("completes a raw prompt without any chat wrapper: Q 37+48= gives digits, then EOS", async () => {
      const result = await backend.generate({
        prompt: "Q 37+48=",
        maxTokens: 6,
        sampling: { temperature: 0 },
      });
      expect(result.text.trim()).toMatch(/^\d{1,3}$/);
      expect(result.text.trim()).toBe("85");
      expect(result.finishReason).toBe("stop");
      expect(result.promptTokens).toBe(9); // BOS + 8 characters
    });

    it("answers the VERIFY format with one letter", async () => {
      const result = await backend.generate({
        prompt: "V 37+48=85 ?",
        maxTokens: 2,
        sampling: { temperature: 0 },
      });
      expect(["Y", "N"]).toContain(result.text.trim());
    });
  },
);

// Needs a trained model from ../shared/models (a test cannot write one), and says so in its title when
// skipped; the same backend code also runs above on the GGUF this file writes itself.
describe.skipIf(STORIES === undefined)(
  "llama backend on stories260K.gguf (skipped: ../shared/models/stories260K.gguf is missing)",
  () => {
    let backend: LlamaBackend;
    beforeAll(async () => {
      backend = await createLlamaBackend({ modelPath: STORIES as string, contextSize: 512, threads: 1 });
    });
    afterAll(async () => {
      await backend?.close();
    });

    it("streams an English-ish story", async () => {
      const pieces: string[] = [];
      const result = await backend.generate(
        { prompt: "Once upon a time", maxTokens: 40, sampling: { temperature: 0 } },
        { onText: (p) => pieces.push(p) },
      );
      expect(pieces.length).toBeGreaterThan(5);
      expect(pieces.join("")).toBe(result.text);
      expect(result.text).toMatch(/\b(the|a|was|she|he|and)\b/);
      expect(backend.descriptor()).toMatchObject({ hasChatTemplate: false, parameterCount: 292_800 });
    });
  },
);

// Needs a trained model from ../shared/models (a test cannot write one), and says so in its title when
// skipped; the same backend code also runs above on the GGUF this file writes itself.
describe.skipIf(TINY_RANDOM === undefined)(
  "llama backend on llama-2-tiny-random.gguf (skipped: ../shared/models/llama-2-tiny-random.gguf is missing)",
  () => {
    let backend: LlamaBackend;
    beforeAll(async () => {
      // batchSize 64 keeps the 32k-vocabulary logits buffer at ~8 MB instead of ~65 MB.
      backend = await createLlamaBackend({
        modelPath: TINY_RANDOM as string,
        contextSize: 256,
        parallel: 2,
        batchSize: 64,
        threads: 1,
      });
    });
    afterAll(async () => {
      await backend?.close();
    });

    it("reads an F16 model's descriptor and serves two chat slots at once", async () => {
      expect(backend.descriptor()).toMatchObject({
        name: "LLaMA v2",
        quantization: "F16",
        parameterCount: 513_048,
        trainContextLength: 4096,
        contextLength: 256,
      });
      const ask = (content: string): Promise<GenerateResult> =>
        backend.generate({
          messages: [{ role: "user", content }],
          maxTokens: 12,
          sampling: { temperature: 0 },
        });
      const [a, b] = await Promise.all([ask("hello"), ask("hello")]);
      expect(a.text).toBe(b.text);
      expect(a.completionTokens).toBeGreaterThan(0);
    });
  },
);
