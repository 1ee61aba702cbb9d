// Writes GGUF v3 files: typed metadata, the tensor directory and aligned tensor data. Used to make the
// project's test models; metadata values carry an explicit GGUF type because llama.cpp's loader checks
// it (a u32 key written as i32 is rejected), and a JS number cannot say which one it is.
import { GgufError } from '../protocol/errors.ts';
import { ggmlTypeName, tensorByteSize } from './ggml-types.ts';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufValueType } from './reader.ts';

type ScalarType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64' | 'u64' | 'i64' | 'bool' | 'string';

/** One metadata value with its GGUF type; build them with the `gguf` helpers below. */
export type GgufMetaValue =
  | { readonly kind: 'scalar'; readonly type: ScalarType; readonly value: number | bigint | boolean | string }
  | { readonly kind: 'array'; readonly type: ScalarType; readonly values: ArrayLike<number | bigint | boolean | string> }
  | { readonly kind: 'nested'; readonly values: readonly GgufMetaValue[] };

const typeIds: Record<ScalarType, number> = {
  u8: GgufValueType.UINT8,
  i8: GgufValueType.INT8,
  u16: GgufValueType.UINT16,
  i16: GgufValueType.INT16,
  u32: GgufValueType.UINT32,
  i32: GgufValueType.INT32,
  f32: GgufValueType.FLOAT32,
  f64: GgufValueType.FLOAT64,
  u64: GgufValueType.UINT64,
  i64: GgufValueType.INT64,
  bool: GgufValueType.BOOL,
  string: GgufValueType.STRING,
};

const scalar =
  (type: ScalarType) =>
  (value: number | bigint | boolean | string): GgufMetaValue => ({ kind: 'scalar', type, value });

/** Constructors for typed metadata values, e.g. `gguf.u32(2)`, `gguf.array('f32', scores)`. */
export const gguf = {
  u8: scalar('u8'),
  i8: scalar('i8'),
  u16: scalar('u16'),
  i16: scalar('i16'),
  u32: scalar('u32'),
  i32: scalar('i32'),
  f32: scalar('f32'),
  f64: scalar('f64'),
  u64: scalar('u64'),
  i64: scalar('i64'),
  bool: (v: boolean): GgufMetaValue => ({ kind: 'scalar', type: 'bool', value: v }),
  string: (v: string): GgufMetaValue => ({ kind: 'scalar', type: 'string', value: v }),
  array: (type: ScalarType, values: ArrayLike<number | bigint | boolean | string>): GgufMetaValue => ({ kind: 'array', type, values }),
  nested: (values: readonly GgufMetaValue[]): GgufMetaValue => ({ kind: 'nested', values }),
};

export interface GgufTensorInput {
  readonly name: string;
  /** ggml order: shape[0] is the row length. */
  readonly shape: readonly number[];
  readonly type: number;
  /** The tensor's bytes, already in `type`'s encoding. */
  readonly data: Uint8Array;
}

export interface GgufWriteInput {
  /** In file order; keys must be unique. */
  readonly metadata: ReadonlyArray<readonly [string, GgufMetaValue]>;
  readonly tensors: readonly GgufTensorInput[];
  /** Defaults to 32; any other value is also written as general.alignment. */
  readonly alignment?: number;
}

function invalid(detail: string): GgufError {
  return new GgufError('gguf_corrupt', `cannot write GGUF: ${detail}`);
}

/** Growable little-endian byte buffer for the header. */
class Out {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  pos = 0;
  private readonly encoder = new TextEncoder();
  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.reserve(1);
    this.view.setUint8(this.pos, v);
    this.pos += 1;
  }
  i8(v: number): void {
    this.reserve(1);
    this.view.setInt8(this.pos, v);
    this.pos += 1;
  }
  u16(v: number): void {
    this.reserve(2);
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
  }
  i16(v: number): void {
    this.reserve(2);
    this.view.setInt16(this.pos, v, true);
    this.pos += 2;
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.view.setInt32(this.pos, v, true);
    this.pos += 4;
  }
  f32(v: number): void {
    this.reserve(4);
    this.view.setFloat32(this.pos, v, true);
    this.pos += 4;
  }
  f64(v: number): void {
    this.reserve(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }
  u64(v: number | bigint): void {
    this.reserve(8);
    this.view.setBigUint64(this.pos, BigInt(v), true);
    this.pos += 8;
  }
  i64(v: number | bigint): void {
    this.reserve(8);
    this.view.setBigInt64(this.pos, BigInt(v), true);
    this.pos += 8;
  }
  string(s: string): void {
    const bytes = this.encoder.encode(s);
    this.u64(bytes.length);
    this.reserve(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }
  pad(alignment: number): void {
    const end = Math.ceil(this.pos / alignment) * alignment;
    this.reserve(end - this.pos);
    this.buf.fill(0, this.pos, end);
    this.pos = end;
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

function writeScalar(out: Out, type: ScalarType, v: number | bigint | boolean | string, key: string): void {
  const want = type === 'string' ? 'string' : type === 'bool' ? 'boolean' : type === 'u64' || type === 'i64' ? undefined : 'number';
  if (want !== undefined && typeof v !== want) throw invalid(`metadata ${key}: ${String(v)} is not a ${type}`);
  switch (type) {
    case 'u8':
      out.u8(v as number);
      break;
    case 'i8':
      out.i8(v as number);
      break;
    case 'u16':
      out.u16(v as number);
      break;
    case 'i16':
      out.i16(v as number);
      break;
    case 'u32':
      out.u32(v as number);
      break;
    case 'i32':
      out.i32(v as number);
      break;
    case 'f32':
      out.f32(v as number);
      break;
    case 'f64':
      out.f64(v as number);
      break;
    case 'u64':
      out.u64(v as number | bigint);
      break;
    case 'i64':
      out.i64(v as number | bigint);
      break;
    case 'bool':
      out.u8(v ? 1 : 0);
      break;
    case 'string':
      out.string(v as string);
      break;
  }
}

function writeValue(out: Out, value: GgufMetaValue, key: string): void {
  if (value.kind === 'scalar') {
    writeScalar(out, value.type, value.value, key);
  } else if (value.kind === 'array') {
    out.u32(typeIds[value.type]);
    out.u64(value.values.length);
    for (let i = 0; i < value.values.length; i++) writeScalar(out, value.type, value.values[i], key);
  } else {
    out.u32(GgufValueType.ARRAY);
    out.u64(value.values.length);
    for (const inner of value.values) {
      if (inner.kind === 'scalar') throw invalid(`metadata ${key}: a nested array holds only arrays`);
      writeValue(out, inner, key);
    }
  }
}

function typeIdOf(value: GgufMetaValue): number {
  return value.kind === 'scalar' ? typeIds[value.type] : GgufValueType.ARRAY;
}

interface Layout {
  readonly header: Uint8Array;
  /** Offset of each tensor from the start of the data section. */
  readonly offsets: number[];
  readonly alignment: number;
  readonly totalSize: number;
}

function layout(input: GgufWriteInput): Layout {
  const alignment = input.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) throw invalid(`alignment ${alignment} is not a positive multiple of 8`);
  const metadata = [...input.metadata];
  const keys = new Set(metadata.map(([k]) => k));
  if (keys.size !== metadata.length) throw invalid('metadata keys repeat');
  if (alignment !== GGUF_DEFAULT_ALIGNMENT && !keys.has('general.alignment')) metadata.push(['general.alignment', gguf.u32(alignment)]);
  const names = new Set<string>();
  const offsets: number[] = [];
  let offset = 0;
  for (const t of input.tensors) {
    if (names.has(t.name)) throw invalid(`tensor ${t.name} appears twice`);
    names.add(t.name);
    const elements = t.shape.reduce((a, b) => a * b, 1);
    const size = tensorByteSize(t.type, elements);
    if (size === undefined || t.data.byteLength !== size) {
      throw invalid(`tensor ${t.name} [${t.shape}] of type ${ggmlTypeName(t.type)} needs ${size ?? 'whole blocks of'} bytes, got ${t.data.byteLength}`);
    }
    offsets.push(offset);
    offset = Math.ceil((offset + size) / alignment) * alignment;
  }
  const out = new Out();
  out.u32(GGUF_MAGIC);
  out.u32(3);
  out.u64(input.tensors.length);
  out.u64(metadata.length);
  for (const [key, value] of metadata) {
    out.string(key);
    out.u32(typeIdOf(value));
    writeValue(out, value, key);
  }
  input.tensors.forEach((t, i) => {
    out.string(t.name);
    out.u32(t.shape.length);
    for (const d of t.shape) out.u64(d);
    out.u32(t.type);
    out.u64(offsets[i]);
  });
  out.pad(alignment);
  const header = out.bytes();
  const last = input.tensors.length - 1;
  const dataSize = last < 0 ? 0 : offsets[last] + input.tensors[last].data.byteLength;
  return { header, offsets, alignment, totalSize: header.byteLength + dataSize };
}

/** The whole file in memory (tests, small models). */
export function encodeGguf(input: GgufWriteInput): Uint8Array {
  const { header, offsets, totalSize } = layout(input);
  const file = new Uint8Array(totalSize); // zero-filled: padding between tensors is zeros
  file.set(header, 0);
  input.tensors.forEach((t, i) => file.set(t.data, header.byteLength + offsets[i]));
  return file;
}

/**
 * The file as a sequence of chunks (header, then each tensor with its padding), so a large model can
 * be streamed to disk without a second copy in memory. Pure: no I/O here, the caller writes.
 */
export function ggufChunks(input: GgufWriteInput): { totalSize: number; chunks: Iterable<Uint8Array> } {
  const { header, offsets, totalSize } = layout(input);
  function* chunks(): Generator<Uint8Array> {
    yield header;
    let pos = header.byteLength;
    for (let i = 0; i < input.tensors.length; i++) {
      const start = header.byteLength + offsets[i];
      if (start > pos) yield new Uint8Array(start - pos);
      yield input.tensors[i].data;
      pos = start + input.tensors[i].data.byteLength;
    }
  }
  return { totalSize, chunks: chunks() };
}
