/**
 * Startup checks for a GGUF model and its descriptor, read from the header only (no weights loaded):
 * missing file, not a GGUF, unparseable or truncated GGUF, too big for the memory that is free.
 * Each failure is a ModelStartupError naming the file and the exact problem. Decisions are pure functions;
 * `inspectModelFile`, `resolveModelSource` and `checkModelFitsMemory` are the thin I/O shells.
 */
import { open, stat } from "node:fs/promises";
import { isAbsolute, resolve as resolvePath } from "node:path";
import {
  GgmlType,
  type GgufFileInfo,
  GgufFileType,
  GgufInsights,
  type GgufTensorInfo,
  type Llama,
  readGgufFileInfo,
  resolveModelFile,
} from "node-llama-cpp";
import { ModelStartupError } from "./backends/errors.js";
import type { ModelDescriptor } from "./backends/types.js";

/** The first four bytes of every GGUF file. */
export const GGUF_MAGIC = "GGUF";

/** [bytes per block, elements per block] of ggml tensor types (ggml's type traits, checked against 3.22.1). */
const GGML_TYPE_SIZES: Readonly<Record<number, readonly [number, number]>> = {
  0: [4, 1], // F32
  1: [2, 1], // F16
  2: [18, 32], // Q4_0
  3: [20, 32], // Q4_1
  6: [22, 32], // Q5_0
  7: [24, 32], // Q5_1
  8: [34, 32], // Q8_0
  9: [36, 32], // Q8_1
  10: [84, 256], // Q2_K
  11: [110, 256], // Q3_K
  12: [144, 256], // Q4_K
  13: [176, 256], // Q5_K
  14: [210, 256], // Q6_K
  15: [292, 256], // Q8_K
  16: [66, 256], // IQ2_XXS
  17: [74, 256], // IQ2_XS
  18: [98, 256], // IQ3_XXS
  19: [50, 256], // IQ1_S
  20: [18, 32], // IQ4_NL
  21: [110, 256], // IQ3_S
  22: [82, 256], // IQ2_S
  23: [136, 256], // IQ4_XS
  24: [1, 1], // I8
  25: [2, 1], // I16
  26: [4, 1], // I32
  27: [8, 1], // I64
  28: [8, 1], // F64
  29: [56, 256], // IQ1_M
  30: [2, 1], // BF16
  34: [54, 256], // TQ1_0
  35: [66, 256], // TQ2_0
  39: [17, 32], // MXFP4
};

/**
 * Bytes of a tensor's data, or 0 for a type missing from the table — a lower bound, so the truncation
 * check below can miss a cut inside such a tensor but never reports a whole file as truncated.
 */
export function tensorDataBytes(tensor: Pick<GgufTensorInfo, "dimensions" | "ggmlType">): number {
  const traits = GGML_TYPE_SIZES[tensor.ggmlType];
  if (traits === undefined) return 0;
  const [typeSize, blockSize] = traits;
  const dims = tensor.dimensions.map(Number);
  const [first = 1, ...rest] = dims;
  const rowBytes = (first / blockSize) * typeSize;
  return rest.reduce((bytes, d) => bytes * d, rowBytes);
}

/** Where the file must end at least: the end of the header or of the furthest tensor's data. */
export function ggufRequiredBytes(info: Pick<GgufFileInfo, "tensorInfo" | "infoEndOffset">): number {
  let end = info.infoEndOffset ?? 0;
  for (const tensor of info.tensorInfo ?? []) {
    end = Math.max(end, Number(tensor.fileOffset) + tensorDataBytes(tensor));
  }
  return end;
}

/** What makes a parsed header unusable, all at once; empty when it is fine. Pure. */
export function ggufHeaderProblems(
  info: Pick<GgufFileInfo, "version" | "tensorInfo" | "metadata">,
): string[] {
  const problems: string[] = [];
  if (info.version !== 2 && info.version !== 3) {
    problems.push(`unsupported GGUF version ${info.version} (expected 2 or 3)`);
  }
  if ((info.tensorInfo ?? []).length === 0) problems.push("it declares no tensors");
  if (typeof info.metadata?.general?.architecture !== "string")
    problems.push("it has no general.architecture");
  return problems;
}

/** Sum of tensor element counts (what llama.cpp and GgufInsights call the parameter count). */
export function parameterCountOf(tensors: readonly Pick<GgufTensorInfo, "dimensions">[]): number {
  let total = 0;
  for (const t of tensors) total += t.dimensions.reduce<number>((n, d) => n * Number(d), 1);
  return total;
}

/** "Q4_K_M", "F16", …: general.file_type when present, else the tensor type holding most parameters. */
export function quantizationOf(info: Pick<GgufFileInfo, "metadata" | "tensorInfo">): string {
  const fileType = info.metadata.general?.file_type;
  if (typeof fileType === "number" && GgufFileType[fileType] !== undefined) {
    return GgufFileType[fileType].replace(/^(MOSTLY|ALL)_/, "");
  }
  const byType = new Map<number, number>();
  for (const t of info.tensorInfo ?? []) {
    byType.set(t.ggmlType, (byType.get(t.ggmlType) ?? 0) + parameterCountOf([t]));
  }
  let best: [number, number] | undefined;
  for (const entry of byType) if (best === undefined || entry[1] > best[1]) best = entry;
  return best === undefined ? "unknown" : (GgmlType[best[0]] ?? "unknown");
}

export interface DescribeOptions {
  readonly fileSizeBytes: number;
  /** Path or `hf:` URI the model came from. */
  readonly source: string;
  /** Context length per slot the backend runs with. @default the trained context length */
  readonly contextLength?: number;
}

/** The model descriptor from a parsed GGUF header. Pure. */
export function describeGguf(info: GgufFileInfo, options: DescribeOptions): ModelDescriptor {
  const general = info.metadata.general;
  const architecture = String(general?.architecture ?? "unknown");
  const fileName = (options.source.split(/[\\/]/).pop() ?? options.source).replace(/\.gguf$/i, "");
  const basename = (general as { basename?: unknown } | undefined)?.basename;
  const chatTemplate = info.metadata.tokenizer?.chat_template;
  const trainContextLength = Number(info.architectureMetadata.context_length ?? 0);
  return {
    // Some converters write the architecture as the name ("llama"): the file name says more then.
    name:
      typeof general?.name === "string" &&
      general.name !== "" &&
      general.name.toLowerCase() !== architecture.toLowerCase()
        ? general.name
        : fileName,
    family: typeof basename === "string" && basename !== "" ? basename : architecture,
    architecture,
    parameterCount: parameterCountOf(info.tensorInfo ?? []),
    quantization: quantizationOf(info),
    contextLength: options.contextLength ?? trainContextLength,
    trainContextLength,
    fileSizeBytes: options.fileSizeBytes,
    source: options.source,
    backend: "llama",
    hasChatTemplate: typeof chatTemplate === "string" && chatTemplate !== "",
    ...(typeof chatTemplate === "string" && chatTemplate !== "" ? { chatTemplate } : {}),
    supportsScoring: true,
  };
}

export interface InspectedModel {
  readonly path: string;
  readonly fileSizeBytes: number;
  readonly info: GgufFileInfo;
}

/** Checks the file exists, is a GGUF, parses, and holds all the data its header declares. */
export async function inspectModelFile(path: string): Promise<InspectedModel> {
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new ModelStartupError("model_missing", `model path is not a file: ${path}`);
    size = st.size;
  } catch (err) {
    if (err instanceof ModelStartupError) throw err;
    throw new ModelStartupError("model_missing", `model file not found: ${path}`, { cause: err });
  }
  const magic = await readMagic(path);
  if (magic.toString("latin1") !== GGUF_MAGIC) {
    throw new ModelStartupError(
      "not_gguf",
      `not a GGUF model file: ${path} starts with bytes ${magic.toString("hex") || "(empty file)"}, ` +
        `expected "GGUF" (47475546)`,
    );
  }
  let info: GgufFileInfo;
  try {
    info = await readGgufFileInfo(path, { sourceType: "filesystem", logWarnings: false });
  } catch (err) {
    throw new ModelStartupError(
      "invalid_gguf",
      `cannot parse the GGUF header of ${path}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const problems = ggufHeaderProblems(info);
  if (problems.length > 0) {
    throw new ModelStartupError("invalid_gguf", `invalid GGUF file ${path}: ${problems.join("; ")}`, {
      details: problems,
    });
  }
  const required = ggufRequiredBytes(info);
  if (required > size) {
    throw new ModelStartupError(
      "truncated_gguf",
      `truncated GGUF file ${path}: its header declares data up to byte ${required} but the file has ` +
        `${size} bytes (an interrupted download?)`,
      { details: [`required=${required}`, `actual=${size}`] },
    );
  }
  return { path, fileSizeBytes: size, info };
}

async function readMagic(path: string): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(4);
    const { bytesRead } = await handle.read(buffer, 0, 4, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** `hf:` URIs and URLs are resolved (and downloaded) by node-llama-cpp; anything else is a local path. */
export function isModelUri(source: string): boolean {
  return /^(hf:|huggingface:|https?:\/\/)/i.test(source);
}

export interface ResolveSourceOptions {
  /** Where downloaded models are cached. @default node-llama-cpp's ~/.node-llama-cpp/models */
  readonly cacheDir?: string;
  /** Download a URI model that is not cached yet. @default true */
  readonly allowDownload?: boolean;
  readonly onProgress?: (downloadedBytes: number, totalBytes: number) => void;
  readonly signal?: AbortSignal;
  /** Base for relative paths. @default process.cwd() */
  readonly cwd?: string;
}

/** A local path for `source`, downloading an `hf:` URI into the cache when allowed. */
export async function resolveModelSource(
  source: string,
  options: ResolveSourceOptions = {},
): Promise<string> {
  if (!isModelUri(source)) {
    return isAbsolute(source) ? source : resolvePath(options.cwd ?? process.cwd(), source);
  }
  const allowDownload = options.allowDownload ?? true;
  try {
    return await resolveModelFile(source, {
      ...(options.cacheDir === undefined ? {} : { directory: options.cacheDir }),
      download: allowDownload ? "auto" : false,
      cli: false,
      ...(options.onProgress === undefined
        ? {}
        : { onProgress: (s) => options.onProgress?.(s.downloadedSize, s.totalSize) }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } catch (err) {
    if (!allowDownload) {
      throw new ModelStartupError(
        "model_missing",
        `model ${source} is not in the cache${options.cacheDir ? ` ${options.cacheDir}` : ""} and downloading ` +
          "is off; download it elsewhere and pass the local file instead (--model /path/to/model.gguf)",
        { cause: err },
      );
    }
    throw new ModelStartupError(
      "download_failed",
      `could not download ${source}: ${(err as Error).message}. Offline? Pass a local GGUF file instead ` +
        "(--model /path/to/model.gguf)",
      { cause: err },
    );
  }
}

/** Free memory the model may use, from the hardware probe (the edge tests fake). */
export interface MemoryAvailability {
  readonly ramFreeBytes: number;
  readonly ramTotalBytes: number;
  readonly vramFreeBytes: number;
  readonly vramTotalBytes: number;
}

export interface MemoryNeed {
  readonly ramBytes: number;
  readonly vramBytes: number;
  readonly gpuLayers: number;
}

const MIB = 1024 * 1024;
const mib = (bytes: number): string => `${(bytes / MIB).toFixed(1)} MiB`;

/** Every way `need` does not fit in `have`; empty when it fits. Pure. */
export function decideMemoryFit(need: MemoryNeed, have: MemoryAvailability): string[] {
  const problems: string[] = [];
  if (need.ramBytes > have.ramFreeBytes) {
    problems.push(`needs ${mib(need.ramBytes)} of RAM but only ${mib(have.ramFreeBytes)} is free`);
  }
  if (need.vramBytes > have.vramFreeBytes) {
    problems.push(`needs ${mib(need.vramBytes)} of VRAM but only ${mib(have.vramFreeBytes)} is free`);
  }
  return problems;
}

export interface MemoryCheckOptions {
  readonly llama: Llama;
  readonly model: InspectedModel;
  readonly gpuLayers: "auto" | number;
  readonly contextSize: number;
  readonly sequences: number;
  readonly available: MemoryAvailability;
}

/**
 * Estimates model + context memory with node-llama-cpp's GgufInsights against the probed free memory
 * (not the live machine's, so a test can inject a tiny limit). Throws `model_too_big` naming both figures.
 */
export async function checkModelFitsMemory(options: MemoryCheckOptions): Promise<MemoryNeed> {
  const { llama, model, available } = options;
  const insights = await GgufInsights.from(model.info, llama);
  const { resolvedValues } = await insights.configurationResolver.resolveAndScoreConfig(
    {
      ...(options.gpuLayers === "auto" ? {} : { targetGpuLayers: options.gpuLayers }),
      // Each sequence has its own contextSize of KV cells.
      targetContextSize: options.contextSize * options.sequences,
    },
    {
      getVramState: async () => ({
        total: available.vramTotalBytes,
        free: available.vramFreeBytes,
        unifiedSize: 0,
      }),
      getRamState: async () => ({ total: available.ramTotalBytes, free: available.ramFreeBytes }),
      getSwapState: async () => ({ total: 0, free: 0 }),
      llamaGpu: llama.gpu,
      llamaSupportsGpuOffloading: llama.supportsGpuOffloading,
    },
  );
  const need: MemoryNeed = {
    ramBytes: resolvedValues.totalRamUsage,
    vramBytes: resolvedValues.totalVramUsage,
    gpuLayers: resolvedValues.gpuLayers,
  };
  const problems = decideMemoryFit(need, available);
  if (problems.length > 0) {
    throw new ModelStartupError(
      "model_too_big",
      `model ${model.path} is too big for this machine at context ${options.contextSize} × ` +
        `${options.sequences} slot(s): it ${problems.join(" and ")}. Try a smaller quantisation, a smaller ` +
        "--context-size or fewer --parallel slots",
      { details: problems },
    );
  }
  return need;
}
