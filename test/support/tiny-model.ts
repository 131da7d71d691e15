/**
 * Tiny llama-architecture GGUF models built in memory for tests, plus deliberately broken files for
 * startup-failure tests, plus `findTestModel` for the optional real fixtures in `../shared/models`.
 *
 * The generated model has deterministic pseudo-random weights (seeded PRNG), so it produces gibberish, but the
 * same seed always gives byte-identical files and identical greedy output. Its output rows for `<unk>`, `<s>`,
 * `</s>` and the 256 byte tokens are zero, so greedy decoding only ever emits printable pieces and never EOS:
 * a completion always runs to `maxTokens`. Tests of stop-on-EOS need a real model.
 */
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  elementCount,
  encodeGguf,
  type GgufFileSpec,
  type GgufTensor,
  ggufBool,
  ggufFloat32,
  ggufFloat32Array,
  ggufInt32Array,
  ggufString,
  ggufStringArray,
  ggufUint32,
} from "./gguf-writer.js";

/** Environment variable naming a directory of test models; it is searched before `../shared/models`. */
export const TEST_MODELS_DIR_ENV = "CONCLAVE_TEST_MODELS_DIR";

/** SentencePiece's visible space (U+2581), which replaces " " inside pieces. */
export const SPM_SPACE = "\u2581";

/** Words that become single tokens by default (with their prefixes), so ordinary text tokenizes compactly. */
export const DEFAULT_TINY_WORDS: readonly string[] = [
  "▁the",
  "▁and",
  "▁a",
  "▁is",
  "▁hello",
  "▁world",
  "▁model",
  "▁answer",
];

/** llama.cpp token types (`llama_token_type`). */
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

/** Options for `writeTinyLlamaGguf`. All sizes must be positive integers. */
export interface TinyLlamaOptions {
  /** PRNG seed (only its low 32 bits matter); the same seed and options always give a byte-identical file. */
  readonly seed: number;
  /**
   * Extra words to make single tokens; write a leading space as `▁` (e.g. `▁hello`). Every prefix of at least
   * two characters becomes a piece too, so SentencePiece's bigram merges can reach the word. Printable ASCII
   * characters are always in the vocabulary.
   * @default DEFAULT_TINY_WORDS
   */
  readonly vocab?: readonly string[];
  /** Embedding width (`llama.embedding_length`). @default 32 */
  readonly embd?: number;
  /** Transformer blocks (`llama.block_count`). @default 2 */
  readonly layers?: number;
  /** Attention heads; must divide `embd`, and `embd / heads` must be even (rotary pairs). @default 4 */
  readonly heads?: number;
  /** Key/value heads; must divide `heads`. @default heads */
  readonly kvHeads?: number;
  /** Feed-forward width (`llama.feed_forward_length`). @default 64 */
  readonly ffn?: number;
  /** Training context length written to the header (`llama.context_length`). @default 256 */
  readonly contextLength?: number;
  /** `general.name`. @default "conclave-tiny-llama" */
  readonly name?: string;
}

/** The resolved shape of a generated model. */
export interface TinyLlamaParams {
  readonly seed: number;
  readonly name: string;
  readonly embd: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly ffn: number;
  readonly contextLength: number;
  /** The full token list, in id order: `<unk>`, `<s>`, `</s>`, 256 byte tokens, `▁`, printable ASCII, words. */
  readonly tokens: readonly string[];
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  /** Sum of all tensor element counts (what node-llama-cpp's `fileInsights.totalParameters` reports). */
  readonly parameterCount: number;
  readonly tensorCount: number;
}

/** A file written by one of the helpers here. */
export interface WrittenModelFile {
  readonly path: string;
  /** File size in bytes. */
  readonly bytes: number;
}

export interface TinyLlamaFile extends WrittenModelFile {
  readonly params: TinyLlamaParams;
}

/** Options that describe an impossible model; `problems` lists all of them. */
export class TinyModelOptionsError extends Error {
  override readonly name = "TinyModelOptionsError";
  constructor(readonly problems: readonly string[]) {
    super(`invalid tiny model options: ${problems.join("; ")}`);
  }
}

/** mulberry32: a tiny, fast, well-mixed 32-bit PRNG; returns floats in [0, 1). */
export function createPrng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Builds the SentencePiece-style vocabulary. Pure. */
export function buildTinyVocab(words: readonly string[]): {
  tokens: string[];
  scores: number[];
  tokenTypes: number[];
} {
  const tokens = ["<unk>", "<s>", "</s>"];
  const tokenTypes: number[] = [TOKEN_TYPE.unknown, TOKEN_TYPE.control, TOKEN_TYPE.control];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    tokenTypes.push(TOKEN_TYPE.byte);
  }
  const normal = new Set<string>([SPM_SPACE]);
  for (let c = 0x21; c <= 0x7e; c++) normal.add(String.fromCharCode(c));
  for (const word of words) {
    const chars = Array.from(word.replaceAll(" ", SPM_SPACE));
    for (const c of chars) normal.add(c);
    for (let end = 2; end <= chars.length; end++) normal.add(chars.slice(0, end).join(""));
  }
  for (const piece of normal) {
    tokens.push(piece);
    tokenTypes.push(TOKEN_TYPE.normal);
  }
  // SentencePiece scores are log-probabilities; here a longer piece simply scores higher, so merges prefer it.
  const scores = tokens.map((t, i) => (tokenTypes[i] === TOKEN_TYPE.normal ? Array.from(t).length - 1 : 0));
  return { tokens, scores, tokenTypes };
}

function resolveParams(options: TinyLlamaOptions): Omit<TinyLlamaParams, "parameterCount" | "tensorCount"> {
  const embd = options.embd ?? 32;
  const layers = options.layers ?? 2;
  const heads = options.heads ?? 4;
  const kvHeads = options.kvHeads ?? heads;
  const ffn = options.ffn ?? 64;
  const contextLength = options.contextLength ?? 256;
  const problems: string[] = [];
  if (!Number.isSafeInteger(options.seed)) problems.push("seed must be an integer");
  const sizes = { embd, layers, heads, kvHeads, ffn, contextLength };
  for (const [key, value] of Object.entries(sizes)) {
    if (!Number.isSafeInteger(value) || value <= 0) problems.push(`${key} must be a positive integer`);
  }
  if (embd % heads !== 0) problems.push("heads must divide embd");
  else if ((embd / heads) % 2 !== 0) problems.push("embd / heads must be even for rotary embeddings");
  if (heads % kvHeads !== 0) problems.push("kvHeads must divide heads");
  const words = options.vocab ?? DEFAULT_TINY_WORDS;
  if (words.some((w) => w.length === 0)) problems.push("vocab words must not be empty");
  if (problems.length > 0) throw new TinyModelOptionsError(problems);
  const { tokens } = buildTinyVocab(words);
  return {
    seed: options.seed,
    name: options.name ?? "conclave-tiny-llama",
    embd,
    layers,
    heads,
    kvHeads,
    headDim: embd / heads,
    ffn,
    contextLength,
    tokens,
    vocabSize: tokens.length,
    bosId: 1,
    eosId: 2,
  };
}

/** Builds the GGUF spec of a tiny llama model. Pure and deterministic in `options`. */
export function buildTinyLlamaSpec(options: TinyLlamaOptions): {
  spec: GgufFileSpec;
  params: TinyLlamaParams;
} {
  const p = resolveParams(options);
  const vocab = buildTinyVocab(options.vocab ?? DEFAULT_TINY_WORDS);
  const random = createPrng(p.seed);
  const kvDim = p.kvHeads * p.headDim;

  // dims follow GGUF order, ne0 = input (inner) dim; uniform init with variance 1/ne0 keeps activations sane.
  const matrix = (name: string, dims: [number, number], scale = Math.sqrt(3 / dims[0])): GgufTensor => {
    const data = new Float32Array(elementCount(dims));
    for (let i = 0; i < data.length; i++) data[i] = (random() * 2 - 1) * scale;
    return { name, dims, data };
  };
  const ones = (name: string): GgufTensor => ({
    name,
    dims: [p.embd],
    data: new Float32Array(p.embd).fill(1),
  });

  const output = matrix("output.weight", [p.embd, p.vocabSize]);
  // Zero logits for special and byte tokens: random text beats them, so greedy output stays printable.
  for (const [id, type] of vocab.tokenTypes.entries()) {
    if (type !== TOKEN_TYPE.normal) output.data.fill(0, id * p.embd, (id + 1) * p.embd);
  }
  const tensors: GgufTensor[] = [
    matrix("token_embd.weight", [p.embd, p.vocabSize], 1),
    ones("output_norm.weight"),
    output,
  ];
  for (let l = 0; l < p.layers; l++) {
    tensors.push(
      ones(`blk.${l}.attn_norm.weight`),
      matrix(`blk.${l}.attn_q.weight`, [p.embd, p.embd]),
      matrix(`blk.${l}.attn_k.weight`, [p.embd, kvDim]),
      matrix(`blk.${l}.attn_v.weight`, [p.embd, kvDim]),
      matrix(`blk.${l}.attn_output.weight`, [p.embd, p.embd]),
      ones(`blk.${l}.ffn_norm.weight`),
      matrix(`blk.${l}.ffn_gate.weight`, [p.embd, p.ffn]),
      matrix(`blk.${l}.ffn_up.weight`, [p.embd, p.ffn]),
      matrix(`blk.${l}.ffn_down.weight`, [p.ffn, p.embd]),
    );
  }

  const metadata = {
    "general.architecture": ggufString("llama"),
    "general.name": ggufString(p.name),
    "general.file_type": ggufUint32(0), // LLAMA_FTYPE_ALL_F32
    "llama.context_length": ggufUint32(p.contextLength),
    "llama.embedding_length": ggufUint32(p.embd),
    "llama.block_count": ggufUint32(p.layers),
    "llama.feed_forward_length": ggufUint32(p.ffn),
    "llama.attention.head_count": ggufUint32(p.heads),
    "llama.attention.head_count_kv": ggufUint32(p.kvHeads),
    "llama.attention.layer_norm_rms_epsilon": ggufFloat32(1e-5),
    "llama.rope.dimension_count": ggufUint32(p.headDim),
    "llama.rope.freq_base": ggufFloat32(10000),
    "llama.vocab_size": ggufUint32(p.vocabSize),
    "tokenizer.ggml.model": ggufString("llama"),
    "tokenizer.ggml.tokens": ggufStringArray(vocab.tokens),
    "tokenizer.ggml.scores": ggufFloat32Array(vocab.scores),
    "tokenizer.ggml.token_type": ggufInt32Array(vocab.tokenTypes),
    "tokenizer.ggml.bos_token_id": ggufUint32(p.bosId),
    "tokenizer.ggml.eos_token_id": ggufUint32(p.eosId),
    "tokenizer.ggml.unknown_token_id": ggufUint32(0),
    "tokenizer.ggml.add_bos_token": ggufBool(true),
    "tokenizer.ggml.add_eos_token": ggufBool(false),
    "tokenizer.ggml.add_space_prefix": ggufBool(true),
  };
  const parameterCount = tensors.reduce((sum, t) => sum + t.data.length, 0);
  return { spec: { metadata, tensors }, params: { ...p, parameterCount, tensorCount: tensors.length } };
}

/** Writes a tiny llama GGUF (about 200 KB with the defaults) to `path`. */
export async function writeTinyLlamaGguf(path: string, options: TinyLlamaOptions): Promise<TinyLlamaFile> {
  const { spec, params } = buildTinyLlamaSpec(options);
  const { bytes } = encodeGguf(spec);
  await writeFile(path, bytes);
  return { path, bytes: bytes.length, params };
}

/** Writes a small text file that is not a GGUF (its first 4 bytes are not the `GGUF` magic). */
export async function writeNotAGguf(path: string): Promise<WrittenModelFile> {
  const bytes = new TextEncoder().encode(
    "This is not a GGUF model file; it is a Conclave test fixture.\n".repeat(8),
  );
  await writeFile(path, bytes);
  return { path, bytes: bytes.length };
}

/**
 * Writes a tiny llama GGUF whose header, metadata and tensor infos are intact but whose tensor data stops
 * halfway, as after an interrupted download.
 */
export async function writeTruncatedGguf(
  path: string,
  options: TinyLlamaOptions = { seed: 1 },
): Promise<WrittenModelFile & { readonly fullBytes: number; readonly dataOffset: number }> {
  const { spec } = buildTinyLlamaSpec(options);
  const { bytes, dataOffset } = encodeGguf(spec);
  const cut = dataOffset + Math.floor((bytes.length - dataOffset) / 2);
  await writeFile(path, bytes.subarray(0, cut));
  return { path, bytes: cut, fullBytes: bytes.length, dataOffset };
}

/** Where `findTestModel` looks. */
export interface FindTestModelOptions {
  /** Environment to read `CONCLAVE_TEST_MODELS_DIR` from. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Repository root; the shared models live at `<repoRoot>/../shared/models`. @default this repo's root */
  readonly repoRoot?: string;
}

/** The repository root, two levels above this file (`test/support/`). */
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Path of the optional real test model `name` (e.g. `stories260K.gguf`): first in `$CONCLAVE_TEST_MODELS_DIR`,
 * then in `<repoRoot>/../shared/models`. Undefined when neither has it, as on a fresh clone.
 */
export function findTestModel(name: string, options: FindTestModelOptions = {}): string | undefined {
  if (name.length === 0 || basename(name) !== name) {
    throw new TypeError(`test model name must be a bare file name, got ${JSON.stringify(name)}`);
  }
  const env = options.env ?? process.env;
  const dirs = [env[TEST_MODELS_DIR_ENV], resolve(options.repoRoot ?? REPO_ROOT, "..", "shared", "models")];
  for (const dir of dirs) {
    if (dir === undefined || dir === "") continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}
