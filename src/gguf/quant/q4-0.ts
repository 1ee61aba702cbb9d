// Q4_0: blocks of 32 4-bit values, offset 8, with one fp16 scale (18 bytes). Mirrors quantize_row_q4_0_ref.
import { fp16ToFp32, fp32ToFp16 } from './half.ts';

const QK = 32;
const BLOCK_BYTES = 18;

/** The signed max-magnitude value of a block (first one wins ties), as q4_0/q5_0 pick their scale. */
export function signedAbsMax(x: Float32Array, start: number, n: number): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < n; j++) {
    const v = x[start + j];
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

export function quantizeQ4_0(x: Float32Array): Uint8Array {
  const nb = x.length / QK;
  const out = new Uint8Array(nb * BLOCK_BYTES);
  const view = new DataView(out.buffer);
  for (let i = 0; i < nb; i++) {
    const d = Math.fround(signedAbsMax(x, i * QK, QK) / -8);
    const id = d ? Math.fround(1 / d) : 0;
    const o = i * BLOCK_BYTES;
    view.setUint16(o, fp32ToFp16(d), true);
    for (let j = 0; j < QK / 2; j++) {
      const x0 = Math.fround(x[i * QK + j] * id);
      const x1 = Math.fround(x[i * QK + QK / 2 + j] * id);
      const xi0 = Math.min(15, Math.trunc(Math.fround(x0 + 8.5)));
      const xi1 = Math.min(15, Math.trunc(Math.fround(x1 + 8.5)));
      out[o + 2 + j] = xi0 | (xi1 << 4);
    }
  }
  return out;
}

export function dequantizeQ4_0(bytes: Uint8Array, n: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const y = new Float32Array(n);
  for (let i = 0; i < n / QK; i++) {
    const o = i * BLOCK_BYTES;
    const d = fp16ToFp32(view.getUint16(o, true));
    for (let j = 0; j < QK / 2; j++) {
      const q = bytes[o + 2 + j];
      y[i * QK + j] = ((q & 0x0f) - 8) * d;
      y[i * QK + j + QK / 2] = ((q >> 4) - 8) * d;
    }
  }
  return y;
}
