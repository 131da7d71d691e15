/**
 * Startup checks of the llama backend on real files: each failure is a ModelStartupError whose code and
 * message name the exact problem. "Too big" is simulated at the hardware edge: the probe reports almost no
 * free memory. `hf:` URIs resolve offline from a local cache (the override CI uses, with no internet).
 */
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelStartupError } from "../../worker/src/backends/errors.js";
import { createLlamaBackend } from "../../worker/src/backends/llama-backend.js";
import type { HardwareSnapshot } from "../../worker/src/hardware-probe.js";
import { inspectModelFile } from "../../worker/src/model-inspect.js";
import { writeNotAGguf, writeTinyLlamaGguf, writeTruncatedGguf } from "../support/tiny-model.js";

const startupError = async (p: Promise<unknown>): Promise<ModelStartupError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModelStartupError);
  return err as ModelStartupError;
};

const MIB = 1024 * 1024;
const tinyMachine =
  (ramFreeBytes: number): (() => Promise<HardwareSnapshot>) =>
  async () => ({
    gpus: [],
    computeBackend: "cpu",
    ramTotalBytes: 2 * ramFreeBytes,
    ramFreeBytes,
    vramTotalBytes: 0,
    vramFreeBytes: 0,
    cpuModel: "test",
    cpuCores: 1,
    cpuLoad: 0,
  });

describe("llama backend startup checks", () => {
  let dir: string;
  let tiny: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "conclave-startup-"));
    tiny = (await writeTinyLlamaGguf(join(dir, "tiny.gguf"), { seed: 3 })).path;
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("names a missing file", async () => {
    const path = join(dir, "nope.gguf");
    const err = await startupError(createLlamaBackend({ modelPath: path, threads: 1 }));
    expect(err.code).toBe("model_missing");
    expect(err.message).toBe(`model file not found: ${path}`);
  });

  it("names a directory given as the model", async () => {
    const err = await startupError(createLlamaBackend({ modelPath: dir, threads: 1 }));
    expect(err.code).toBe("model_missing");
    expect(err.message).toMatch(/not a file/);
  });

  it("names a file that is not a GGUF, with the bytes it starts with", async () => {
    const { path } = await writeNotAGguf(join(dir, "notes.gguf"));
    const err = await startupError(createLlamaBackend({ modelPath: path, threads: 1 }));
    expect(err.code).toBe("not_gguf");
    expect(err.message).toContain(path);
    expect(err.message).toContain(Buffer.from("This").toString("hex"));
  });

  it("names a truncated GGUF with the declared and actual sizes", async () => {
    const written = await writeTruncatedGguf(join(dir, "cut.gguf"), { seed: 3 });
    const err = await startupError(createLlamaBackend({ modelPath: written.path, threads: 1 }));
    expect(err.code).toBe("truncated_gguf");
    expect(err.message).toContain(`the file has ${written.bytes} bytes`);
    expect(err.details).toEqual([`required=${written.fullBytes}`, `actual=${written.bytes}`]);
  });

  it("names a model too big for the free memory the probe reports", async () => {
    const err = await startupError(
      createLlamaBackend(
        { modelPath: tiny, contextSize: 256, parallel: 2, threads: 1 },
        { probe: tinyMachine(MIB / 4) },
      ),
    );
    expect(err.code).toBe("model_too_big");
    expect(err.message).toMatch(/needs [\d.]+ MiB of RAM but only 0\.3 MiB is free/);
    expect(err.message).toContain("context 256 × 2 slot(s)");
  });

  it("starts when the same model fits", async () => {
    const backend = await createLlamaBackend(
      { modelPath: tiny, contextSize: 256, threads: 1 },
      { probe: tinyMachine(512 * MIB) },
    );
    try {
      expect(backend.descriptor().source).toBe(tiny);
      expect((await backend.generate({ prompt: "hello", maxTokens: 3 })).completionTokens).toBe(3);
    } finally {
      await backend.close();
    }
  });

  it("reports the full file size and a clean header for a good file", async () => {
    const inspected = await inspectModelFile(tiny);
    expect(inspected.fileSizeBytes).toBeGreaterThan(0);
    expect(inspected.info.metadata.general.architecture).toBe("llama");
  });

  it("rejects invalid options, listing every problem", async () => {
    const err = await startupError(
      createLlamaBackend({ modelPath: tiny, parallel: 0, contextSize: -1, gpuLayers: 1.5, threads: 0 }),
    );
    expect(err.code).toBe("bad_config");
    expect(err.details).toHaveLength(4);
  });

  describe("hf: URIs offline", () => {
    it("load from the local cache without touching the network", async () => {
      const cache = join(dir, "cache");
      await mkdir(cache, { recursive: true });
      // node-llama-cpp's cache file name for hf:<user>/<repo>/<file>
      await copyFile(tiny, join(cache, "hf_conclave_tiny.Q4_K_M.gguf"));
      const uri = "hf:conclave/tiny-GGUF/tiny.Q4_K_M.gguf";
      const progress: string[] = [];
      const backend = await createLlamaBackend({
        modelPath: uri,
        cacheDir: cache,
        allowDownload: false,
        contextSize: 128,
        threads: 1,
        onProgress: (p) => progress.push(p.phase),
      });
      try {
        expect(backend.descriptor().source).toBe(uri);
        expect(progress).toContain("load");
      } finally {
        await backend.close();
      }
    });

    it("say how to pass a local file when the model is not cached and downloads are off", async () => {
      const err = await startupError(
        createLlamaBackend({
          modelPath: "hf:conclave/absent-GGUF:Q4_K_M",
          cacheDir: join(dir, "empty-cache"),
          allowDownload: false,
          threads: 1,
        }),
      );
      expect(err.code).toBe("model_missing");
      expect(err.message).toContain("--model /path/to/model.gguf");
    });
  });
});
