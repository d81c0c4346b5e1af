import { open } from "node:fs/promises";

/** GGUF metadata value types (gguf.h). */
const GGUF = { UINT32: 4, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9 } as const;

/** The tensor types the writer can produce (ggml.h ids). */
export const GGML_TYPE = { F32: 0, F16: 1, Q8_0: 8 } as const;
export type TensorType = keyof typeof GGML_TYPE;

const ALIGNMENT = 32;

export type MetadataValue =
  | { uint32: number }
  | { float32: number }
  | { bool: boolean }
  | { string: string }
  | { strings: string[] }
  | { uint32s: number[] }
  | { int32s: number[] };

export interface TensorSpec {
  name: string;
  /** Dimensions fastest-first, as GGUF stores them. */
  dims: number[];
  type: TensorType;
  /** Writes exactly `tensorBytes(dims, type)` bytes of data, in chunks. */
  write: (sink: (chunk: Uint8Array) => Promise<void>) => Promise<void>;
}

/** Bytes a tensor occupies (before alignment padding). */
export function tensorBytes(dims: number[], type: TensorType): number {
  const n = dims.reduce((a, b) => a * b, 1);
  if (type === "F32") return n * 4;
  if (type === "F16") return n * 2;
  return (n / 32) * 34;
}

/** Writes a GGUF v3 file: header, metadata, tensor infos, then 32-byte-aligned tensor data. */
export async function writeGguf(
  path: string,
  metadata: Record<string, MetadataValue>,
  tensors: TensorSpec[],
): Promise<void> {
  const header = new ByteWriter();
  header.raw(Buffer.from("GGUF", "ascii"));
  header.u32(3);
  header.u64(tensors.length);
  header.u64(Object.keys(metadata).length);
  for (const [key, value] of Object.entries(metadata)) {
    header.string(key);
    writeValue(header, value);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const tensor of tensors) {
    header.string(tensor.name);
    header.u32(tensor.dims.length);
    for (const d of tensor.dims) header.u64(d);
    header.u32(GGML_TYPE[tensor.type]);
    header.u64(offset);
    offsets.push(offset);
    offset = align(offset + tensorBytes(tensor.dims, tensor.type));
  }
  header.raw(new Uint8Array(align(header.length) - header.length));

  const file = await open(path, "w");
  try {
    let position = 0;
    const sink = async (chunk: Uint8Array) => {
      await file.write(chunk, 0, chunk.length, position);
      position += chunk.length;
    };
    await sink(header.bytes());
    const dataStart = position;
    for (const [i, tensor] of tensors.entries()) {
      const start = dataStart + (offsets[i] ?? 0);
      if (position !== start) await sink(new Uint8Array(start - position));
      await tensor.write(sink);
      const expected = start + tensorBytes(tensor.dims, tensor.type);
      if (position !== expected) {
        throw new Error(
          `tensor ${tensor.name}: wrote ${position - start} bytes, expected ${expected - start}`,
        );
      }
    }
    const end = dataStart + offset;
    if (position !== end) await sink(new Uint8Array(end - position));
  } finally {
    await file.close();
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGNMENT) * ALIGNMENT;
}

function writeValue(w: ByteWriter, value: MetadataValue): void {
  if ("uint32" in value) {
    w.u32(GGUF.UINT32);
    w.u32(value.uint32);
  } else if ("float32" in value) {
    w.u32(GGUF.FLOAT32);
    w.f32(value.float32);
  } else if ("bool" in value) {
    w.u32(GGUF.BOOL);
    w.raw(Uint8Array.of(value.bool ? 1 : 0));
  } else if ("string" in value) {
    w.u32(GGUF.STRING);
    w.string(value.string);
  } else if ("strings" in value) {
    w.u32(GGUF.ARRAY);
    w.u32(GGUF.STRING);
    w.u64(value.strings.length);
    for (const s of value.strings) w.string(s);
  } else if ("uint32s" in value) {
    w.u32(GGUF.ARRAY);
    w.u32(GGUF.UINT32);
    w.u64(value.uint32s.length);
    for (const n of value.uint32s) w.u32(n);
  } else {
    // token_type is an INT32 array in llama.cpp's own converter.
    w.u32(GGUF.ARRAY);
    w.u32(5);
    w.u64(value.int32s.length);
    for (const n of value.int32s) w.i32(n);
  }
}

class ByteWriter {
  private chunks: Uint8Array[] = [];
  length = 0;

  raw(bytes: Uint8Array) {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }
  u32(n: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    this.raw(b);
  }
  i32(n: number) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    this.raw(b);
  }
  u64(n: number) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    this.raw(b);
  }
  f32(n: number) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(n);
    this.raw(b);
  }
  string(s: string) {
    const bytes = Buffer.from(s, "utf8");
    this.u64(bytes.length);
    this.raw(bytes);
  }
  bytes(): Uint8Array {
    return Buffer.concat(this.chunks);
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half-precision bits of a float (round to nearest). */
export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign; // tiny values flush to zero; the writer never needs subnormals
  if (exp >= 31) return sign | 0x7c00;
  const half = sign | (exp << 10) | (mant >>> 13);
  return mant & 0x1000 ? half + 1 : half;
}

/** Encodes dense f32 rows as the requested tensor type. */
export function encode(values: Float32Array, type: TensorType): Uint8Array {
  if (type === "F32") return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  if (type === "F16") {
    const out = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = toHalf(values[i] ?? 0);
    return new Uint8Array(out.buffer);
  }
  const blocks = values.length / 32;
  const out = Buffer.alloc(blocks * 34);
  for (let b = 0; b < blocks; b++) {
    let max = 0;
    for (let i = 0; i < 32; i++) max = Math.max(max, Math.abs(values[b * 32 + i] ?? 0));
    const d = max / 127;
    out.writeUInt16LE(toHalf(d), b * 34);
    for (let i = 0; i < 32; i++) {
      const q = d === 0 ? 0 : Math.round((values[b * 32 + i] ?? 0) / d);
      out.writeInt8(Math.max(-127, Math.min(127, q)), b * 34 + 2 + i);
    }
  }
  return out;
}
