import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import fc from "fast-check";
import {
  getLlama,
  type Llama,
  LlamaCompletion,
  LlamaLogLevel,
  type LlamaModel,
  readGgufFileInfo,
  type Token,
} from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  encodeGguf,
  type GgufMetadataValue,
  type GgufTensor,
  GgufWriteError,
  ggufString,
  writeGgufFile,
} from "../support/gguf-writer.js";
import {
  buildTinyLlamaSpec,
  findTestModel,
  REPO_ROOT,
  SPM_SPACE,
  TEST_MODELS_DIR_ENV,
  TinyModelOptionsError,
  writeNotAGguf,
  writeTinyLlamaGguf,
  writeTruncatedGguf,
} from "../support/tiny-model.js";

/** Polls `check` until it returns true; llama.cpp's native log lines arrive after the JS promise settles. */
async function waitFor(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Digest of a file's bytes (hashed as base64 text: @types/node 20's Buffer doesn't type-check as BinaryLike). */
const sha256 = (bytes: Buffer | undefined): string =>
  createHash("sha256")
    .update(bytes?.toString("base64") ?? "")
    .digest("hex");

/** The error `fn` throws, or undefined when it returns. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** Decodes what readGgufFileInfo should give back for a value we wrote. */
function expectedDecoded(value: GgufMetadataValue): unknown {
  switch (value.type) {
    case "float32":
      return Math.fround(value.value);
    case "array":
      return value.itemType === "float32"
        ? Array.from(value.values, (v) => Math.fround(v))
        : Array.from(value.values as ArrayLike<string | number>);
    default:
      return value.value;
  }
}

const metadataValueArb: fc.Arbitrary<GgufMetadataValue> = fc.oneof(
  fc.integer({ min: 0, max: 0xff }).map((value) => ({ type: "uint8", value }) as const),
  fc.integer({ min: -0x80, max: 0x7f }).map((value) => ({ type: "int8", value }) as const),
  fc.integer({ min: 0, max: 0xffff }).map((value) => ({ type: "uint16", value }) as const),
  fc.integer({ min: -0x8000, max: 0x7fff }).map((value) => ({ type: "int16", value }) as const),
  fc.integer({ min: 0, max: 0xffffffff }).map((value) => ({ type: "uint32", value }) as const),
  fc.integer().map((value) => ({ type: "int32", value }) as const),
  fc.float().map((value) => ({ type: "float32", value }) as const),
  fc.double().map((value) => ({ type: "float64", value }) as const),
  fc.boolean().map((value) => ({ type: "bool", value }) as const),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((value) => ({ type: "uint64", value }) as const),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => ({ type: "int64", value }) as const),
  fc.string({ unit: "grapheme", maxLength: 40 }).map(ggufString),
  fc
    .array(fc.string({ unit: "grapheme", maxLength: 12 }), { maxLength: 8 })
    .map((values) => ({ type: "array", itemType: "string", values }) as const),
  fc
    .array(fc.float(), { maxLength: 8 })
    .map((values) => ({ type: "array", itemType: "float32", values }) as const),
  fc
    .array(fc.integer(), { maxLength: 8 })
    .map((values) => ({ type: "array", itemType: "int32", values }) as const),
);

const tensorArb: fc.Arbitrary<Omit<GgufTensor, "name">> = fc
  .array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 })
  .chain((dims) =>
    fc
      .array(fc.float({ noNaN: true }), {
        minLength: dims.reduce((a, b) => a * b, 1),
        maxLength: dims.reduce((a, b) => a * b, 1),
      })
      .map((values) => ({ dims, data: Float32Array.from(values) })),
  );

describe("tiny GGUF models written in TypeScript", () => {
  let dir = "";
  let llama: Llama;
  const nativeLogs: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "conclave-tiny-model-"));
    llama = await getLlama({
      gpu: false,
      maxThreads: 1,
      logLevel: LlamaLogLevel.error,
      logger: (_level, message) => nativeLogs.push(message),
    });
  });

  afterAll(async () => {
    await llama?.dispose();
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  async function greedy(model: LlamaModel, prompt: string): Promise<{ text: string; tokens: Token[] }> {
    const context = await model.createContext({ threads: 1, contextSize: 128, batchSize: 64 });
    try {
      const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
      const tokens: Token[] = [];
      const text = await completion.generateCompletion(prompt, {
        temperature: 0,
        maxTokens: 8,
        onToken: (chunk) => tokens.push(...chunk),
      });
      return { text, tokens };
    } finally {
      await context.dispose();
    }
  }

  it("round-trips random metadata and tensors through node-llama-cpp's GGUF parser", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(metadataValueArb, { maxLength: 12 }),
        fc.array(tensorArb, { maxLength: 4 }),
        fc.constantFrom(8, 32, 64),
        async (values, tensorShapes, alignment) => {
          const metadata = Object.fromEntries(values.map((v, i) => [`prop.k${i}`, v]));
          const tensors = tensorShapes.map((t, i) => ({ ...t, name: `t.${i}.weight` }));
          const path = join(dir, "roundtrip.gguf");
          const encoding = await writeGgufFile(path, { metadata, tensors, alignment });

          const info = await readGgufFileInfo(path, { logWarnings: false });
          expect(info.version).toBe(3);
          const prop = (info.metadata as unknown as { prop?: Record<string, unknown> }).prop ?? {};
          for (const [i, v] of values.entries()) expect(prop[`k${i}`]).toEqual(expectedDecoded(v));
          const fileBytes = await readFile(path);
          expect(encoding.dataOffset % alignment).toBe(0);
          for (const [i, tensor] of tensors.entries()) {
            const read = info.fullTensorInfo?.[i];
            expect(read?.name).toBe(tensor.name);
            expect(read?.dimensions.map(Number)).toEqual(tensor.dims);
            expect(Number(read?.fileOffset)).toBe(encoding.tensorOffsets[i]);
            expect(Number(read?.fileOffset) % alignment).toBe(0);
            const start = encoding.tensorOffsets[i] ?? -1;
            const stored = new Float32Array(
              fileBytes.buffer.slice(fileBytes.byteOffset + start).slice(0, tensor.data.byteLength),
            );
            expect(stored).toEqual(tensor.data);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it("rejects an invalid spec listing every problem", () => {
    const bad = { name: "a", dims: [2, 2], data: new Float32Array(3) };
    const error = thrown(() =>
      encodeGguf({ metadata: { n: { type: "uint8", value: 300 } }, tensors: [bad, bad], alignment: 48 }),
    );
    expect(error).toBeInstanceOf(GgufWriteError);
    expect((error as GgufWriteError).problems).toEqual([
      "alignment 48 must be a power of two, at least 8",
      "metadata n is not a valid uint8",
      "tensor 0 (a) has 3 values but dims [2, 2]",
      "tensor 1 (a) name is a duplicate",
      "tensor 1 (a) has 3 values but dims [2, 2]",
    ]);
  });

  it("rejects impossible model options listing every problem", () => {
    const error = thrown(() => buildTinyLlamaSpec({ seed: 1, embd: 30, heads: 4, kvHeads: 3, layers: 0 }));
    expect(error).toBeInstanceOf(TinyModelOptionsError);
    expect((error as TinyModelOptionsError).problems).toEqual([
      "layers must be a positive integer",
      "heads must divide embd",
      "kvHeads must divide heads",
    ]);
  });

  it("writes byte-identical files for one seed and different weights for another", async () => {
    const a = await writeTinyLlamaGguf(join(dir, "seed7-a.gguf"), { seed: 7 });
    const b = await writeTinyLlamaGguf(join(dir, "seed7-b.gguf"), { seed: 7 });
    const c = await writeTinyLlamaGguf(join(dir, "seed8.gguf"), { seed: 8 });
    const [bytesA, bytesB, bytesC] = await Promise.all([a, b, c].map((f) => readFile(f.path)));
    expect(a.bytes).toBe(bytesA?.length);
    expect(a.bytes).toBeLessThan(1_000_000);
    expect(bytesA?.subarray(0, 4).toString("latin1")).toBe("GGUF");
    // Compare digests: vitest's deep equality walks 190k bytes one by one and takes about a second.
    const [sumA, sumB, sumC] = [bytesA, bytesB, bytesC].map((b) => sha256(b));
    expect(sumB).toBe(sumA);
    expect(sumC).not.toBe(sumA);
    expect(c.params.parameterCount).toBe(a.params.parameterCount);
  });

  it("loads in node-llama-cpp with the metadata and parameter count we wrote", async () => {
    const file = await writeTinyLlamaGguf(join(dir, "meta.gguf"), {
      seed: 3,
      name: "tiny-meta",
      contextLength: 512,
      kvHeads: 2,
    });
    const { params } = file;
    // 2·V·E (embeddings, output) + E (output norm) + per layer: 2E norms + 2E² (q, o) + 2·E·kvDim (k, v) + 3·E·F.
    const kvDim = params.kvHeads * params.headDim;
    const perLayer =
      2 * params.embd + 2 * params.embd ** 2 + 2 * params.embd * kvDim + 3 * params.embd * params.ffn;
    expect(params.parameterCount).toBe(
      2 * params.vocabSize * params.embd + params.embd + params.layers * perLayer,
    );
    expect(params.tensorCount).toBe(3 + 9 * params.layers);

    const model = await llama.loadModel({ modelPath: file.path });
    try {
      const {
        general,
        llama: arch,
        tokenizer,
      } = model.fileInfo.metadata as unknown as {
        general: { architecture: string; name: string };
        llama: { context_length: number; attention: { head_count_kv: number } };
        tokenizer: { ggml: { tokens: string[]; token_type: number[] } };
      };
      expect(general).toMatchObject({ architecture: "llama", name: "tiny-meta" });
      expect(arch.context_length).toBe(512);
      expect(arch.attention.head_count_kv).toBe(2);
      expect(model.trainContextSize).toBe(512);
      expect(model.fileInsights.totalParameters).toBe(params.parameterCount);
      expect(model.fileInfo.tensorCount).toBe(params.tensorCount);
      expect(tokenizer.ggml.tokens).toEqual(params.tokens);
      expect(tokenizer.ggml.token_type.slice(3, 259).every((t) => t === 6)).toBe(true);
      expect(model.tokens.bos).toBe(params.bosId);
      expect(model.tokens.eos).toBe(params.eosId);

      const id = (piece: string) => params.tokens.indexOf(piece);
      expect(model.tokenize("hello world, 42")).toEqual([
        id(`${SPM_SPACE}hello`),
        id(`${SPM_SPACE}world`),
        id(","),
        id(SPM_SPACE),
        id("4"),
        id("2"),
      ]);
      expect(model.detokenize(model.tokenize("hello world, 42"))).toBe("hello world, 42");
    } finally {
      await model.dispose();
    }
  });

  it("generates the same greedy text from two files written with the same seed", async () => {
    const runs: { text: string; tokens: Token[] }[] = [];
    for (const name of ["gen-a.gguf", "gen-b.gguf"]) {
      const file = await writeTinyLlamaGguf(join(dir, name), { seed: 11 });
      const model = await llama.loadModel({ modelPath: file.path });
      try {
        runs.push(await greedy(model, "hello world"));
      } finally {
        await model.dispose();
      }
    }
    const [first, second] = runs;
    // Special and byte tokens have zero logits, so greedy decoding emits 8 printable pieces and never EOS.
    expect(first?.tokens).toHaveLength(8);
    expect(first?.tokens.every((t) => t >= 259)).toBe(true);
    expect(first?.text.trim().length).toBeGreaterThan(0);
    expect(second).toEqual(first);
  });

  it("fails to read or load a missing file with ENOENT", async () => {
    const missing = join(dir, "missing.gguf");
    await expect(readGgufFileInfo(missing)).rejects.toMatchObject({ code: "ENOENT" });
    await expect(llama.loadModel({ modelPath: missing })).rejects.toMatchObject({
      code: "ENOENT",
      message: expect.stringContaining("no such file or directory"),
    });
  });

  it("fails to read or load a file that is not a GGUF", async () => {
    const file = await writeNotAGguf(join(dir, "not-a-model.gguf"));
    expect(file.bytes).toBeGreaterThan(8);
    const expected = 'Invalid GGUF magic. Expected "GGUF" but got "This".';
    await expect(readGgufFileInfo(file.path)).rejects.toThrow(expected);
    await expect(llama.loadModel({ modelPath: file.path })).rejects.toThrow(expected);
  });

  it("reads the header of a truncated GGUF but fails to load it, logging why", async () => {
    const file = await writeTruncatedGguf(join(dir, "truncated.gguf"), { seed: 5 });
    expect(file.bytes).toBeGreaterThan(file.dataOffset);
    expect(file.bytes).toBeLessThan(file.fullBytes);
    // Only the header, metadata and tensor infos are read, and those are intact.
    const info = await readGgufFileInfo(file.path);
    expect(info.metadata.general.architecture).toBe("llama");

    nativeLogs.length = 0;
    await expect(llama.loadModel({ modelPath: file.path })).rejects.toThrow("Failed to load model");
    await waitFor("llama.cpp's reason", () =>
      nativeLogs.some((m) => m.includes("not within the file bounds")),
    );
    expect(nativeLogs.find((m) => m.includes("not within the file bounds"))).toMatch(
      /^llama_model_load: error loading model: tensor '[\w.]+' data is not within the file bounds, model is corrupted or incomplete$/,
    );
  });

  it("finds shared test models through the env override, then next to the repository", async () => {
    const envDir = join(dir, "env-models");
    await mkdir(envDir, { recursive: true });
    await writeFile(join(envDir, "x.gguf"), "x");
    const fakeRoot = join(dir, "clone", "main");
    expect(findTestModel("x.gguf", { env: { [TEST_MODELS_DIR_ENV]: envDir }, repoRoot: fakeRoot })).toBe(
      join(envDir, "x.gguf"),
    );
    expect(findTestModel("x.gguf", { env: {}, repoRoot: fakeRoot })).toBeUndefined();
    expect(
      findTestModel("y.gguf", { env: { [TEST_MODELS_DIR_ENV]: envDir }, repoRoot: fakeRoot }),
    ).toBeUndefined();
    expect(() => findTestModel("../x.gguf")).toThrow(TypeError);

    const shared = resolve(REPO_ROOT, "..", "shared", "models", "stories260K.gguf");
    expect(findTestModel("stories260K.gguf", { env: {} })).toBe(existsSync(shared) ? shared : undefined);
  });
});
