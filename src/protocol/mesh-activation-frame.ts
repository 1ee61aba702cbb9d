// The binary frame that carries hidden states between pipeline stages over a libp2p stream.
// Little-endian, 40-byte header then the payload:
//   0  "MLWA" magic          4  version u8 (MESH_PROTOCOL_VERSION)   5  dtype u8 (0 f32, 1 f16)
//   6  flags u16             8  inference session id, 16 bytes      24 plan epoch u32
//   28 first position u32    32 token count u32                     36 width u32 (hidden size)
//   40 payload: tokenCount × width values of dtype, nothing after it
// Flags: bit 0 "exact rows" (a speculative verification batch: every row must equal what a one-token
// frame gives, bit for bit, so a stage whose kernels sum bigger batches in another order runs it in
// smaller chunks); the other bits are 0.
// The decoder checks every field against the payload length, refuses NaN and infinite values (a
// stage that sends them is broken or lying: they would reach the sampler as token 0), and never throws.
import { rejected, type Checked } from './mesh-checks.ts';
import { MESH_PROTOCOL_VERSION, versionMismatchReason } from './mesh-version.ts';

export const FRAME_MAGIC = 0x41574c4d; // "MLWA" read as little-endian u32
export const FRAME_HEADER_BYTES = 40;
/** Four times the head's batch (mesh-session.ts): a stage computes a frame in one go, so this bounds its work and memory per frame. */
export const MAX_FRAME_TOKENS = 1024;
export const MAX_FRAME_WIDTH = 65_536;
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;
const FLAG_EXACT_ROWS = 1;

export type FrameDtype = 'f32' | 'f16';
const DTYPES: readonly FrameDtype[] = ['f32', 'f16'];
const DTYPE_BYTES: Record<FrameDtype, number> = { f32: 4, f16: 2 };

export interface ActivationFrame {
  readonly dtype: FrameDtype;
  /** 16 bytes, unique per inference session. */
  readonly sessionId: Uint8Array;
  readonly planEpoch: number;
  readonly position: number;
  readonly tokenCount: number;
  readonly width: number;
  /** tokenCount × width values, row per token. */
  readonly payload: Uint8Array;
  /** Rows must equal one-token frames' bit for bit (speculative verification); absent: false. */
  readonly exact?: boolean;
}

export function encodeActivationFrame(f: ActivationFrame): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(FRAME_HEADER_BYTES + f.payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, FRAME_MAGIC, true);
  out[4] = MESH_PROTOCOL_VERSION;
  out[5] = DTYPES.indexOf(f.dtype);
  view.setUint16(6, f.exact ? FLAG_EXACT_ROWS : 0, true);
  out.set(f.sessionId.subarray(0, 16), 8);
  view.setUint32(24, f.planEpoch, true);
  view.setUint32(28, f.position, true);
  view.setUint32(32, f.tokenCount, true);
  view.setUint32(36, f.width, true);
  out.set(f.payload, FRAME_HEADER_BYTES);
  return out;
}

export function decodeActivationFrame(bytes: unknown): Checked<ActivationFrame> {
  if (!(bytes instanceof Uint8Array)) return rejected('malformed', 'a frame is bytes');
  if (bytes.length < FRAME_HEADER_BYTES) return rejected('malformed', `a frame has a ${FRAME_HEADER_BYTES}-byte header, got ${bytes.length} bytes`);
  if (bytes.length > FRAME_HEADER_BYTES + MAX_FRAME_BYTES) return rejected('too_large', `frame is over ${MAX_FRAME_BYTES} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== FRAME_MAGIC) return rejected('malformed', 'not an activation frame (bad magic)');
  if (bytes[4] !== MESH_PROTOCOL_VERSION) return rejected('unsupported_version', versionMismatchReason(bytes[4]));
  const dtype = DTYPES[bytes[5]];
  if (!dtype) return rejected('malformed', `unknown dtype ${bytes[5]}`);
  const flags = view.getUint16(6, true);
  if ((flags & ~FLAG_EXACT_ROWS) !== 0) return rejected('malformed', 'unknown frame flags');
  const tokenCount = view.getUint32(32, true);
  const width = view.getUint32(36, true);
  if (tokenCount < 1 || tokenCount > MAX_FRAME_TOKENS) return rejected('malformed', `token count ${tokenCount} is outside 1…${MAX_FRAME_TOKENS}`);
  if (width < 1 || width > MAX_FRAME_WIDTH) return rejected('malformed', `width ${width} is outside 1…${MAX_FRAME_WIDTH}`);
  const expected = tokenCount * width * DTYPE_BYTES[dtype];
  if (bytes.length - FRAME_HEADER_BYTES !== expected)
    return rejected('malformed', `payload is ${bytes.length - FRAME_HEADER_BYTES} bytes, the header says ${expected}`);
  const position = view.getUint32(28, true);
  if (position + tokenCount > 2 ** 31) return rejected('malformed', 'positions run past 2^31');
  const bad = firstNonFinite(bytes.subarray(FRAME_HEADER_BYTES), dtype);
  if (bad >= 0) return rejected('malformed', `value ${bad} (token ${Math.floor(bad / width)}) is NaN or infinite: hidden states must be finite`);
  return {
    ok: true,
    value: {
      dtype,
      sessionId: bytes.slice(8, 24),
      planEpoch: view.getUint32(24, true),
      position,
      tokenCount,
      width,
      payload: bytes.subarray(FRAME_HEADER_BYTES),
      ...((flags & FLAG_EXACT_ROWS) !== 0 ? { exact: true } : {}),
    },
  };
}

/** The index of the first NaN or infinite value (all exponent bits set), or -1. Little-endian. */
export function firstNonFinite(payload: Uint8Array, dtype: FrameDtype): number {
  if (dtype === 'f16') {
    for (let i = 1; i < payload.length; i += 2) if ((payload[i] & 0x7c) === 0x7c) return (i - 1) / 2;
    return -1;
  }
  for (let i = 3; i < payload.length; i += 4) if ((payload[i] & 0x7f) === 0x7f && (payload[i - 1] & 0x80) === 0x80) return (i - 3) / 4;
  return -1;
}

/** The payload as f32 values (copied when unaligned); f16 payloads need the engine's converter. */
export function frameFloats(frame: ActivationFrame): Float32Array {
  if (frame.dtype !== 'f32') throw new TypeError('frameFloats reads f32 frames only');
  const p = frame.payload;
  // new Uint8Array(p) always copies into a buffer of its own: Node's Buffer.slice() would not.
  return p.byteOffset % 4 === 0 ? new Float32Array(p.buffer, p.byteOffset, p.length / 4) : new Float32Array(new Uint8Array(p).buffer);
}
