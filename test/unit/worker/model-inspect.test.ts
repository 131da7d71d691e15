import { GgmlType, type GgufFileInfo } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import {
  decideMemoryFit,
  describeGguf,
  ggufHeaderProblems,
  ggufRequiredBytes,
  isModelUri,
  parameterCountOf,
  quantizationOf,
  tensorDataBytes,
} from "../../../worker/src/model-inspect.js";

const MIB = 1024 * 1024;

describe("tensor sizes and truncation bounds", () => {
  it("computes ggml tensor bytes for plain and block-quantised types", () => {
    expect(tensorDataBytes({ dimensions: [64, 512], ggmlType: GgmlType.F32 })).toBe(64 * 512 * 4);
    expect(tensorDataBytes({ dimensions: [8, 32000], ggmlType: GgmlType.F16 })).toBe(8 * 32000 * 2);
    // Q4_K: 256 elements per 144-byte block
    expect(tensorDataBytes({ dimensions: [4096, 4096], ggmlType: GgmlType.Q4_K })).toBe(
      (4096 / 256) * 144 * 4096,
    );
    expect(tensorDataBytes({ dimensions: [4096n, 2n], ggmlType: GgmlType.Q8_0 })).toBe((4096 / 32) * 34 * 2);
  });

  it("counts unknown types as 0 bytes (a lower bound: never a false 'truncated')", () => {
    expect(tensorDataBytes({ dimensions: [32, 32], ggmlType: 99 as GgmlType })).toBe(0);
  });

  it("takes the furthest tensor end, or the header end", () => {
    const tensorInfo = [
      { name: "a", dimensions: [10], ggmlType: GgmlType.F32, offset: 0, fileOffset: 1000, filePart: 1 },
      { name: "b", dimensions: [4, 4], ggmlType: GgmlType.F16, offset: 64, fileOffset: 1064, filePart: 1 },
    ];
    expect(ggufRequiredBytes({ tensorInfo, infoEndOffset: 990 })).toBe(1064 + 32);
    expect(ggufRequiredBytes({ tensorInfo: [], infoEndOffset: 5952 })).toBe(5952);
  });
});

describe("ggufHeaderProblems", () => {
  it("lists every reason a parsed header is unusable", () => {
    const tensor = {
      name: "w",
      dimensions: [1],
      ggmlType: GgmlType.F32,
      offset: 0,
      fileOffset: 32,
      filePart: 1,
    };
    expect(
      ggufHeaderProblems({
        version: 3,
        tensorInfo: [tensor],
        metadata: { general: { architecture: "llama" } },
      } as never),
    ).toEqual([]);
    expect(ggufHeaderProblems({ version: 99, tensorInfo: [], metadata: {} } as never)).toEqual([
      "unsupported GGUF version 99 (expected 2 or 3)",
      "it declares no tensors",
      "it has no general.architecture",
    ]);
  });
});

describe("descriptor fields", () => {
  const info = {
    version: 3,
    metadata: {
      general: { architecture: "llama", name: "Tiny Stories", file_type: 15, basename: "TinyLlama" },
      tokenizer: { chat_template: "{{ messages }}" },
    },
    architectureMetadata: { context_length: 2048 },
    tensorInfo: [
      { name: "w", dimensions: [64, 512], ggmlType: GgmlType.Q4_K, offset: 0, fileOffset: 100, filePart: 1 },
      { name: "n", dimensions: [64], ggmlType: GgmlType.F32, offset: 0, fileOffset: 100, filePart: 1 },
    ],
  } as unknown as GgufFileInfo;

  it("reads name, family, quantisation, parameters and the chat template", () => {
    expect(describeGguf(info, { fileSizeBytes: 1234, source: "/m/tiny.gguf", contextLength: 512 })).toEqual({
      name: "Tiny Stories",
      family: "TinyLlama",
      architecture: "llama",
      parameterCount: 64 * 512 + 64,
      quantization: "Q4_K_M",
      contextLength: 512,
      trainContextLength: 2048,
      fileSizeBytes: 1234,
      source: "/m/tiny.gguf",
      backend: "llama",
      hasChatTemplate: true,
      chatTemplate: "{{ messages }}",
      supportsScoring: true,
    });
  });

  it("falls back to the file name, the architecture and the dominant tensor type", () => {
    const bare = {
      ...info,
      metadata: { general: { architecture: "llama" } },
    } as unknown as GgufFileInfo;
    const d = describeGguf(bare, { fileSizeBytes: 1, source: "hf:someone/repo/model.gguf" });
    expect(d.name).toBe("model");
    expect(d.family).toBe("llama");
    // A name that only repeats the architecture (stories260K's header says "llama") is no name.
    const generic = {
      ...info,
      metadata: { general: { architecture: "llama", name: "llama" } },
    } as unknown as GgufFileInfo;
    expect(describeGguf(generic, { fileSizeBytes: 1, source: "/models/stories260K.gguf" }).name).toBe(
      "stories260K",
    );
    expect(d.quantization).toBe("Q4_K");
    expect(d.contextLength).toBe(2048);
    expect(d.hasChatTemplate).toBe(false);
    expect(d).not.toHaveProperty("chatTemplate");
    expect(quantizationOf({ metadata: { general: { file_type: 0 } }, tensorInfo: [] } as never)).toBe("F32");
    expect(parameterCountOf([])).toBe(0);
  });
});

describe("decideMemoryFit", () => {
  const have = { ramFreeBytes: 100 * MIB, ramTotalBytes: 200 * MIB, vramFreeBytes: 0, vramTotalBytes: 0 };

  it("fits when both RAM and VRAM suffice", () => {
    expect(decideMemoryFit({ ramBytes: 99 * MIB, vramBytes: 0, gpuLayers: 0 }, have)).toEqual([]);
  });

  it("names every shortfall with both figures", () => {
    expect(decideMemoryFit({ ramBytes: 150 * MIB, vramBytes: 2 * MIB, gpuLayers: 3 }, have)).toEqual([
      "needs 150.0 MiB of RAM but only 100.0 MiB is free",
      "needs 2.0 MiB of VRAM but only 0.0 MiB is free",
    ]);
  });
});

describe("isModelUri", () => {
  it("tells URIs from paths", () => {
    expect(isModelUri("hf:bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M")).toBe(true);
    expect(isModelUri("https://example.com/m.gguf")).toBe(true);
    expect(isModelUri("./models/m.gguf")).toBe(false);
    expect(isModelUri("C:\\models\\m.gguf")).toBe(false);
  });
});
