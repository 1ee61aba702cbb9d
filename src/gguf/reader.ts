// Parses a GGUF (v2/v3) header: metadata and tensor directory. Knows nothing of compute; the tensor
// bytes are read separately by offset, so a URL source fetches only the ranges a layer range needs.
import { SHORT_STRING, shortUtf8 } from './short-utf8.ts';
import { GgufError } from '../protocol/errors.ts';
import { ggmlTypeInfo, ggmlTypeName, tensorByteSize } from './ggml-types.ts';

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const GGUF_DEFAULT_ALIGNMENT = 32;

export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

export type GgufScalar = number | bigint | boolean | string;
export type GgufArray =
  | string[]
  | boolean[]
  | GgufArray[]
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;
export type GgufValue = GgufScalar | GgufArray;

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml order: shape[0] is the row length (fastest-varying). */
  readonly shape: number[];
  readonly type: number;
  /** Offset from the start of the data section, as stored. */
  readonly offset: number;
  /** Offset from the start of the file. */
  readonly fileOffset: number;
  readonly byteSize: number;
  readonly elements: number;
}

export interface GgufHeader {
  readonly version: number;
  readonly metadata: Map<string, GgufValue>;
  readonly tensors: GgufTensorInfo[];
  readonly alignment: number;
  /** Where tensor data starts in the file. */
  readonly dataOffset: number;
}

/** Thrown inside the parser when the buffer ends before the header does; the caller reads more. */
class NeedMoreBytes extends Error {
  readonly needed: number;
  constructor(needed: number) {
    super(`need ${needed} bytes`);
    this.needed = needed;
  }
}

const MAX_DIMS = 4;
const MAX_STRING = 1 << 26;

class Cursor {
  pos = 0;
  private readonly view: DataView;
  // ignoreBOM: a token that is U+FEFF (SentencePiece vocabularies have one) must survive decoding
  private readonly decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  private readonly bytes: Uint8Array;
  private readonly fileSize: number | undefined;
  constructor(bytes: Uint8Array, fileSize: number | undefined) {
    this.bytes = bytes;
    this.fileSize = fileSize;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  ensure(n: number): void {
    const end = this.pos + n;
    if (this.fileSize !== undefined && end > this.fileSize) {
      throw new GgufError(
        'gguf_truncated',
        `GGUF header runs past the end of the file (needs byte ${end}, file has ${this.fileSize}): the file is truncated or corrupt; download it again`,
      );
    }
    if (end > this.bytes.byteLength) throw new NeedMoreBytes(end);
  }
  u8(): number {
    this.ensure(1);
    return this.view.getUint8(this.pos++);
  }
  i8(): number {
    this.ensure(1);
    return this.view.getInt8(this.pos++);
  }
  u16(): number {
    this.ensure(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  i16(): number {
    this.ensure(2);
    const v = this.view.getInt16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.ensure(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32(): number {
    this.ensure(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f32(): number {
    this.ensure(4);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.ensure(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  u64(): bigint {
    this.ensure(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  i64(): bigint {
    this.ensure(8);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }
  /** A u64 that must fit a JS number and stay below `limit` (a count, size or offset). */
  count(what: string, limit = Number.MAX_SAFE_INTEGER): number {
    // Two u32 halves, not a BigInt: a vocabulary's header holds hundreds of thousands of counts.
    this.ensure(8);
    const lo = this.view.getUint32(this.pos, true),
      hi = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
    const v = hi * 2 ** 32 + lo;
    if (hi >= 2 ** 21 || v > limit) throw corrupt(`${what} is ${(BigInt(hi) << 32n) | BigInt(lo)}, which is impossible here`);
    return v;
  }
  string(): string {
    const len = this.count('string length', MAX_STRING);
    this.ensure(len);
    const at = this.pos;
    this.pos += len;
    return (len <= SHORT_STRING ? shortUtf8(this.bytes, at, at + len) : undefined) ?? this.decoder.decode(this.bytes.subarray(at, at + len));
  }
  typed<T>(ctor: { new (buf: ArrayBuffer): T }, n: number, size: number): T {
    this.ensure(n * size);
    const copy = this.bytes.slice(this.pos, this.pos + n * size); // aligned copy
    this.pos += n * size;
    return new ctor(copy.buffer);
  }
}

function corrupt(detail: string): GgufError {
  return new GgufError('gguf_corrupt', `GGUF file is corrupt: ${detail}; download it again or check that it is a GGUF model`);
}

function toNumber(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

const scalarSize: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

function readValue(c: Cursor, type: number, depth = 0): GgufValue {
  switch (type) {
    case GgufValueType.UINT8:
      return c.u8();
    case GgufValueType.INT8:
      return c.i8();
    case GgufValueType.UINT16:
      return c.u16();
    case GgufValueType.INT16:
      return c.i16();
    case GgufValueType.UINT32:
      return c.u32();
    case GgufValueType.INT32:
      return c.i32();
    case GgufValueType.FLOAT32:
      return c.f32();
    case GgufValueType.FLOAT64:
      return c.f64();
    case GgufValueType.BOOL:
      return c.u8() !== 0;
    case GgufValueType.STRING:
      return c.string();
    case GgufValueType.UINT64:
      return toNumber(c.u64());
    case GgufValueType.INT64:
      return toNumber(c.i64());
    case GgufValueType.ARRAY:
      return readArray(c, depth);
    default:
      throw corrupt(`unknown metadata value type ${type}`);
  }
}

function readArray(c: Cursor, depth: number): GgufArray {
  if (depth > 4) throw corrupt('metadata arrays nested too deeply');
  const itemType = c.u32();
  const n = c.count('array length', 1 << 28);
  const size = scalarSize[itemType];
  switch (itemType) {
    case GgufValueType.UINT8:
      return c.typed(Uint8Array, n, size);
    case GgufValueType.INT8:
      return c.typed(Int8Array, n, size);
    case GgufValueType.UINT16:
      return c.typed(Uint16Array, n, size);
    case GgufValueType.INT16:
      return c.typed(Int16Array, n, size);
    case GgufValueType.UINT32:
      return c.typed(Uint32Array, n, size);
    case GgufValueType.INT32:
      return c.typed(Int32Array, n, size);
    case GgufValueType.FLOAT32:
      return c.typed(Float32Array, n, size);
    case GgufValueType.FLOAT64:
      return c.typed(Float64Array, n, size);
    case GgufValueType.UINT64:
      return c.typed(BigUint64Array, n, size);
    case GgufValueType.INT64:
      return c.typed(BigInt64Array, n, size);
    case GgufValueType.BOOL:
      return Array.from(c.typed(Uint8Array, n, 1), (b) => b !== 0);
    case GgufValueType.STRING: {
      c.ensure(n * 8); // each string has at least its length prefix: a lying count fails fast
      const out: string[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = c.string();
      return out;
    }
    case GgufValueType.ARRAY: {
      const out: GgufArray[] = [];
      for (let i = 0; i < n; i++) out.push(readArray(c, depth + 1));
      return out;
    }
    default:
      throw corrupt(`unknown array item type ${itemType}`);
  }
}

/**
 * Parses the header from the first bytes of a file. Throws NeedMoreBytes (internal) when `bytes`
 * is too short; `fileSize`, when known, turns reads past the end into a clear truncation error.
 */
function parse(bytes: Uint8Array, fileSize: number | undefined): GgufHeader {
  const c = new Cursor(bytes, fileSize);
  if (fileSize !== undefined && fileSize < 24) throw new GgufError('gguf_truncated', `file is ${fileSize} bytes, too short to be a GGUF model`);
  const magic = c.u32();
  if (magic !== GGUF_MAGIC) {
    throw new GgufError('gguf_bad_magic', 'not a GGUF file (magic bytes are not "GGUF"): pass a .gguf model file');
  }
  const version = c.u32();
  if (version !== 2 && version !== 3) {
    throw new GgufError('gguf_bad_version', `GGUF version ${version} is not supported (2 and 3 are); convert the model with a current llama.cpp`);
  }
  const tensorCount = c.count('tensor count', 1 << 20);
  const kvCount = c.count('metadata count', 1 << 20);
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string();
    const type = c.u32();
    metadata.set(key, readValue(c, type));
  }
  const alignment = metadata.has('general.alignment') ? Number(metadata.get('general.alignment')) : GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0 || alignment > 1 << 20) {
    throw corrupt(`general.alignment is ${alignment}`);
  }
  const raw: { name: string; shape: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string();
    const nDims = c.u32();
    if (nDims < 1 || nDims > MAX_DIMS) throw corrupt(`tensor ${name} has ${nDims} dimensions`);
    const shape: number[] = [];
    for (let d = 0; d < nDims; d++) shape.push(c.count(`dimension ${d} of tensor ${name}`, 2 ** 31));
    const type = c.u32();
    const offset = c.count(`offset of tensor ${name}`);
    raw.push({ name, shape, type, offset });
  }
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  const tensors: GgufTensorInfo[] = raw.map(({ name, shape, type, offset }) => {
    const elements = shape.reduce((a, b) => a * b, 1);
    if (shape.some((d) => d === 0) || !Number.isSafeInteger(elements)) throw corrupt(`tensor ${name} has shape [${shape}]`);
    if (!ggmlTypeInfo(type)) {
      throw new GgufError('gguf_unsupported_type', `tensor ${name} has unknown ggml type ${type}; this file needs a newer reader`);
    }
    const byteSize = tensorByteSize(type, elements);
    if (byteSize === undefined || shape[0] % ggmlTypeInfo(type)!.blockSize !== 0) {
      throw corrupt(`tensor ${name} has ${shape[0]} elements per row, not whole ${ggmlTypeName(type)} blocks`);
    }
    if (offset % alignment !== 0) throw corrupt(`tensor ${name} offset ${offset} is not aligned to ${alignment}`);
    const fileOffset = dataOffset + offset;
    if (fileSize !== undefined && fileOffset + byteSize > fileSize) {
      throw new GgufError(
        'gguf_truncated',
        `tensor ${name} ends at byte ${fileOffset + byteSize} but the file has ${fileSize}: the file is truncated or its offsets lie; download it again`,
      );
    }
    return { name, shape, type, offset, fileOffset, byteSize, elements };
  });
  checkNoOverlap(tensors);
  return { version, metadata, tensors, alignment, dataOffset };
}

function checkNoOverlap(tensors: GgufTensorInfo[]): void {
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (prev.offset + prev.byteSize > sorted[i].offset) {
      throw corrupt(`tensors ${prev.name} and ${sorted[i].name} overlap`);
    }
  }
}

/** Random access to a file's bytes: an in-memory buffer, a Blob, or a URL read with Range requests. */
export interface ByteSource {
  /** Total size, when known. */
  readonly size: number | undefined;
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Reads into the caller's buffer and returns the bytes read: a loader reusing one buffer makes no garbage. */
  readInto?(offset: number, into: Uint8Array): Promise<number>;
}

export function parseGgufHeader(bytes: Uint8Array): GgufHeader {
  try {
    return parse(bytes, bytes.byteLength);
  } catch (e) {
    if (e instanceof NeedMoreBytes) throw new GgufError('gguf_truncated', 'GGUF header is truncated');
    throw e;
  }
}

/** Reads the header, fetching more of the file only while the header needs it. */
export async function readGgufHeader(source: ByteSource, firstRead = 1 << 20): Promise<GgufHeader> {
  let length = source.size === undefined ? firstRead : Math.min(firstRead, source.size);
  for (;;) {
    const bytes = await source.read(0, length);
    try {
      return parse(bytes, source.size ?? (bytes.byteLength < length ? bytes.byteLength : undefined));
    } catch (e) {
      if (!(e instanceof NeedMoreBytes)) throw e;
      const next = Math.max(e.needed, length * 2);
      length = source.size === undefined ? next : Math.min(next, source.size);
    }
  }
}

/** Metadata lookups with clear errors for missing or mistyped keys. */
export function metaNumber(h: GgufHeader, key: string, fallback?: number): number {
  const v = h.metadata.get(key);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw corrupt(`metadata key ${key} is missing`);
  }
  if (typeof v !== 'number') throw corrupt(`metadata key ${key} is not a number`);
  return v;
}

export function metaString(h: GgufHeader, key: string, fallback?: string): string {
  const v = h.metadata.get(key);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw corrupt(`metadata key ${key} is missing`);
  }
  if (typeof v !== 'string') throw corrupt(`metadata key ${key} is not a string`);
  return v;
}
