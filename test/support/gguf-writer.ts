/**
 * A small GGUF v3 writer for tests: header, typed key/value metadata (scalars and arrays), tensor infos,
 * aligned F32 tensor data. Follows the layout in ggml's `docs/gguf.md`, little-endian throughout.
 *
 * It exists so the real-inference tests can build a model on a fresh clone, without the binary fixtures in
 * `../shared/models`. Encoding is pure (`encodeGguf`); `writeGgufFile` is the thin I/O shell.
 */
import { writeFile } from "node:fs/promises";

/** The magic bytes every GGUF file starts with: "GGUF" read as a little-endian uint32. */
export const GGUF_MAGIC = 0x46554747;

/** The only format version this writer produces. */
export const GGUF_VERSION = 3;

/** The alignment llama.cpp assumes when a file has no `general.alignment` key. */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** GGML tensor type code for 32-bit floats (`GGML_TYPE_F32`). The only tensor type written here. */
export const GGML_TYPE_F32 = 0;

/** ggml's GGML_MAX_NAME is 64 bytes including the terminating NUL. */
const MAX_TENSOR_NAME_BYTES = 63;

/** ggml tensors have at most 4 dimensions (GGML_MAX_DIMS). */
const MAX_TENSOR_DIMS = 4;

/** Metadata value type codes from the GGUF spec (`gguf_metadata_value_type`). */
export const GgufValueType = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;

/** Scalar metadata types that hold a JS number. */
export type GgufNumberType =
  | "uint8"
  | "int8"
  | "uint16"
  | "int16"
  | "uint32"
  | "int32"
  | "float32"
  | "float64";

/** Numeric array element types this writer supports. */
export type GgufNumberArrayType = "int32" | "uint32" | "float32";

/** One typed metadata value. Build them with the `gguf*` helpers below rather than by hand. */
export type GgufMetadataValue =
  | { readonly type: GgufNumberType; readonly value: number }
  | { readonly type: "uint64" | "int64"; readonly value: bigint }
  | { readonly type: "bool"; readonly value: boolean }
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "array"; readonly itemType: "string"; readonly values: readonly string[] }
  | {
      readonly type: "array";
      readonly itemType: GgufNumberArrayType;
      readonly values: readonly number[] | Float32Array | Int32Array | Uint32Array;
    };

export const ggufString = (value: string): GgufMetadataValue => ({ type: "string", value });
export const ggufUint32 = (value: number): GgufMetadataValue => ({ type: "uint32", value });
export const ggufInt32 = (value: number): GgufMetadataValue => ({ type: "int32", value });
export const ggufFloat32 = (value: number): GgufMetadataValue => ({ type: "float32", value });
export const ggufBool = (value: boolean): GgufMetadataValue => ({ type: "bool", value });
export const ggufUint64 = (value: bigint): GgufMetadataValue => ({ type: "uint64", value });
export const ggufStringArray = (values: readonly string[]): GgufMetadataValue => ({
  type: "array",
  itemType: "string",
  values,
});
export const ggufFloat32Array = (values: readonly number[] | Float32Array): GgufMetadataValue => ({
  type: "array",
  itemType: "float32",
  values,
});
export const ggufInt32Array = (values: readonly number[] | Int32Array): GgufMetadataValue => ({
  type: "array",
  itemType: "int32",
  values,
});

/** One F32 tensor. */
export interface GgufTensor {
  /** Tensor name, e.g. `blk.0.attn_q.weight`; at most 63 UTF-8 bytes. */
  readonly name: string;
  /** GGUF dimension order: `dims[0]` is ne0, the innermost (contiguous) dimension. 1 to 4 entries. */
  readonly dims: readonly number[];
  /** Row-major data, `dims[0]` fastest; its length must equal the product of `dims`. */
  readonly data: Float32Array;
}

/** Everything that goes into one GGUF file. */
export interface GgufFileSpec {
  /** Metadata in write order (string keys keep insertion order). */
  readonly metadata: Readonly<Record<string, GgufMetadataValue>>;
  readonly tensors: readonly GgufTensor[];
  /**
   * Alignment of the data section and of every tensor in it: a power of two, at least 8. When it is not 32, a `general.alignment`
   * key is added unless the metadata already has a matching one.
   * @default 32
   */
  readonly alignment?: number;
}

/** The encoded file plus where its parts start, for tests that cut or corrupt files on purpose. */
export interface GgufEncoding {
  readonly bytes: Uint8Array;
  /** Byte offset of the tensor data section (aligned). */
  readonly dataOffset: number;
  /** Absolute byte offset of each tensor's data, in `spec.tensors` order. */
  readonly tensorOffsets: readonly number[];
}

/** A spec that cannot be written; `problems` lists every problem found, not only the first. */
export class GgufWriteError extends Error {
  override readonly name = "GgufWriteError";
  constructor(readonly problems: readonly string[]) {
    super(`invalid GGUF spec: ${problems.join("; ")}`);
  }
}

const NUMBER_RANGES: Readonly<Record<GgufNumberType, readonly [number, number] | undefined>> = {
  uint8: [0, 0xff],
  int8: [-0x80, 0x7f],
  uint16: [0, 0xffff],
  int16: [-0x8000, 0x7fff],
  uint32: [0, 0xffffffff],
  int32: [-0x80000000, 0x7fffffff],
  float32: undefined,
  float64: undefined,
};

/** Integers must fit their type; floats take any number (NaN and infinities included, as in GGUF). */
function isValidNumber(type: GgufNumberType | GgufNumberArrayType, value: number): boolean {
  const range = NUMBER_RANGES[type];
  if (range === undefined) return typeof value === "number";
  return Number.isInteger(value) && value >= range[0] && value <= range[1];
}

/** What is wrong with one metadata value (phrased to follow its key), or undefined. */
function metadataValueProblem(value: GgufMetadataValue): string | undefined {
  switch (value.type) {
    case "bool":
    case "string":
      return undefined;
    case "uint64":
      return value.value < 0n || value.value >= 2n ** 64n ? " is not a valid uint64" : undefined;
    case "int64":
      return value.value < -(2n ** 63n) || value.value >= 2n ** 63n ? " is not a valid int64" : undefined;
    case "array": {
      if (value.itemType === "string") return undefined;
      const itemType = value.itemType;
      const bad = Array.from(value.values).findIndex((v) => !isValidNumber(itemType, v));
      return bad >= 0 ? `[${bad}] is not a valid ${itemType}` : undefined;
    }
    default:
      return isValidNumber(value.type, value.value) ? undefined : ` is not a valid ${value.type}`;
  }
}

/** Lists every problem with a spec; empty when it can be written. Pure. */
export function validateGgufSpec(spec: GgufFileSpec): string[] {
  const problems: string[] = [];
  const alignment = spec.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  // The GGUF spec asks for a multiple of 8; llama.cpp's loader also insists on a power of two.
  if (!Number.isSafeInteger(alignment) || alignment < 8 || (alignment & (alignment - 1)) !== 0) {
    problems.push(`alignment ${alignment} must be a power of two, at least 8`);
  }
  const declared = spec.metadata["general.alignment"];
  if (declared !== undefined && !(declared.type === "uint32" && declared.value === alignment)) {
    problems.push(`metadata general.alignment must be uint32 ${alignment}`);
  }
  for (const [key, value] of Object.entries(spec.metadata)) {
    if (key.length === 0) problems.push("metadata key must not be empty");
    const problem = metadataValueProblem(value);
    if (problem !== undefined) problems.push(`metadata ${key}${problem}`);
  }
  const seen = new Set<string>();
  for (const [i, tensor] of spec.tensors.entries()) {
    const label = `tensor ${i} (${tensor.name})`;
    const nameBytes = Buffer.byteLength(tensor.name, "utf8");
    if (nameBytes === 0 || nameBytes > MAX_TENSOR_NAME_BYTES) {
      problems.push(`${label} name must be 1..${MAX_TENSOR_NAME_BYTES} bytes`);
    }
    if (seen.has(tensor.name)) problems.push(`${label} name is a duplicate`);
    seen.add(tensor.name);
    if (tensor.dims.length < 1 || tensor.dims.length > MAX_TENSOR_DIMS) {
      problems.push(`${label} must have 1..${MAX_TENSOR_DIMS} dims`);
    }
    if (!tensor.dims.every((d) => Number.isSafeInteger(d) && d > 0)) {
      problems.push(`${label} dims must be positive integers`);
    } else if (elementCount(tensor.dims) !== tensor.data.length) {
      problems.push(`${label} has ${tensor.data.length} values but dims [${tensor.dims.join(", ")}]`);
    }
  }
  return problems;
}

/** Number of elements in a tensor of these dims. */
export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

const alignUp = (n: number, alignment: number): number => Math.ceil(n / alignment) * alignment;

const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Grows as needed; GGUF files here are small, so simplicity beats a two-pass size computation. */
class ByteSink {
  private buf = new Uint8Array(4096);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): DataView {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    return this.view;
  }
  u8(v: number): void {
    this.reserve(1).setUint8(this.length, v);
    this.length += 1;
  }
  i8(v: number): void {
    this.reserve(1).setInt8(this.length, v);
    this.length += 1;
  }
  u16(v: number): void {
    this.reserve(2).setUint16(this.length, v, true);
    this.length += 2;
  }
  i16(v: number): void {
    this.reserve(2).setInt16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number): void {
    this.reserve(4).setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number): void {
    this.reserve(4).setInt32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number): void {
    this.reserve(4).setFloat32(this.length, v, true);
    this.length += 4;
  }
  f64(v: number): void {
    this.reserve(8).setFloat64(this.length, v, true);
    this.length += 8;
  }
  u64(v: bigint | number): void {
    this.reserve(8).setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  i64(v: bigint): void {
    this.reserve(8).setBigInt64(this.length, v, true);
    this.length += 8;
  }
  /** GGUF string: uint64 byte length, then UTF-8 bytes, no terminator. */
  str(s: string): void {
    const bytes = Buffer.from(s, "utf8");
    this.u64(bytes.length);
    this.reserve(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  /** Little-endian float32s; a straight byte copy on little-endian hosts, which is every host we run on. */
  f32s(values: Float32Array): void {
    if (!IS_LITTLE_ENDIAN) {
      for (const v of values) this.f32(v);
      return;
    }
    this.reserve(values.byteLength);
    this.buf.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), this.length);
    this.length += values.byteLength;
  }
  padTo(alignment: number): void {
    const target = alignUp(this.length, alignment);
    this.reserve(target - this.length);
    this.buf.fill(0, this.length, target);
    this.length = target;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function writeNumber(sink: ByteSink, type: GgufNumberType, v: number): void {
  const writers: Record<GgufNumberType, (n: number) => void> = {
    uint8: (n) => sink.u8(n),
    int8: (n) => sink.i8(n),
    uint16: (n) => sink.u16(n),
    int16: (n) => sink.i16(n),
    uint32: (n) => sink.u32(n),
    int32: (n) => sink.i32(n),
    float32: (n) => sink.f32(n),
    float64: (n) => sink.f64(n),
  };
  writers[type](v);
}

function writeValue(sink: ByteSink, value: GgufMetadataValue): void {
  sink.u32(GgufValueType[value.type]);
  switch (value.type) {
    case "string":
      sink.str(value.value);
      break;
    case "bool":
      sink.u8(value.value ? 1 : 0);
      break;
    case "uint64":
      sink.u64(value.value);
      break;
    case "int64":
      sink.i64(value.value);
      break;
    case "array":
      sink.u32(GgufValueType[value.itemType]);
      sink.u64(value.values.length);
      if (value.itemType === "string") {
        for (const s of value.values) sink.str(s);
      } else {
        for (const v of value.values) writeNumber(sink, value.itemType, v);
      }
      break;
    default:
      writeNumber(sink, value.type, value.value);
  }
}

/**
 * Encodes a spec into GGUF v3 bytes. Pure; throws `GgufWriteError` listing every problem when the spec is
 * invalid.
 */
export function encodeGguf(spec: GgufFileSpec): GgufEncoding {
  const problems = validateGgufSpec(spec);
  if (problems.length > 0) throw new GgufWriteError(problems);
  const alignment = spec.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  const metadata: Record<string, GgufMetadataValue> = { ...spec.metadata };
  if (alignment !== GGUF_DEFAULT_ALIGNMENT) metadata["general.alignment"] = ggufUint32(alignment);
  const entries = Object.entries(metadata);

  const sink = new ByteSink();
  sink.u32(GGUF_MAGIC);
  sink.u32(GGUF_VERSION);
  sink.u64(spec.tensors.length);
  sink.u64(entries.length);
  for (const [key, value] of entries) {
    sink.str(key);
    writeValue(sink, value);
  }

  // Tensor offsets are relative to the start of the data section and each one is aligned.
  let relative = 0;
  const relativeOffsets: number[] = [];
  for (const tensor of spec.tensors) {
    relativeOffsets.push(relative);
    sink.str(tensor.name);
    sink.u32(tensor.dims.length);
    for (const d of tensor.dims) sink.u64(d);
    sink.u32(GGML_TYPE_F32);
    sink.u64(relative);
    relative = alignUp(relative + tensor.data.length * 4, alignment);
  }

  sink.padTo(alignment);
  const dataOffset = sink.length;
  for (const tensor of spec.tensors) {
    sink.f32s(tensor.data);
    sink.padTo(alignment);
  }
  return { bytes: sink.bytes(), dataOffset, tensorOffsets: relativeOffsets.map((o) => dataOffset + o) };
}

/** Encodes a spec and writes it to `path`, replacing any file there. */
export async function writeGgufFile(path: string, spec: GgufFileSpec): Promise<GgufEncoding> {
  const encoding = encodeGguf(spec);
  await writeFile(path, encoding.bytes);
  return encoding;
}
