// Q8_0: blocks of 32 int8 values with one fp16 scale (34 bytes). Mirrors quantize_row_q8_0_ref.
import { fp16ToFp32, fp32ToFp16 } from './half.ts';
import { roundAwayFromZero } from './rounding.ts';

const QK = 32;
const BLOCK_BYTES = 34;

export function quantizeQ8_0(x: Float32Array): Uint8Array {
  const nb = x.length / QK;
  const out = new Uint8Array(nb * BLOCK_BYTES);
  const view = new DataView(out.buffer);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[i * QK + j]));
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    const o = i * BLOCK_BYTES;
    view.setUint16(o, fp32ToFp16(d), true);
    for (let j = 0; j < QK; j++) view.setInt8(o + 2 + j, roundAwayFromZero(Math.fround(x[i * QK + j] * id)));
  }
  return out;
}

export function dequantizeQ8_0(bytes: Uint8Array, n: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const y = new Float32Array(n);
  for (let i = 0; i < n / QK; i++) {
    const o = i * BLOCK_BYTES;
    const d = fp16ToFp32(view.getUint16(o, true));
    for (let j = 0; j < QK; j++) y[i * QK + j] = view.getInt8(o + 2 + j) * d;
  }
  return y;
}
