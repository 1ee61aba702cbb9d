// Q5_0: blocks of 32 5-bit values, offset 16: fp16 scale, 32 high bits, 16 bytes of low nibbles
// (22 bytes). Mirrors quantize_row_q5_0_ref.
import { fp16ToFp32, fp32ToFp16 } from './half.ts';
import { signedAbsMax } from './q4-0.ts';

const QK = 32;
const BLOCK_BYTES = 22;

export function quantizeQ5_0(x: Float32Array): Uint8Array {
  const nb = x.length / QK;
  const out = new Uint8Array(nb * BLOCK_BYTES);
  const view = new DataView(out.buffer);
  for (let i = 0; i < nb; i++) {
    const d = Math.fround(signedAbsMax(x, i * QK, QK) / -16);
    const id = d ? Math.fround(1 / d) : 0;
    const o = i * BLOCK_BYTES;
    view.setUint16(o, fp32ToFp16(d), true);
    let qh = 0;
    for (let j = 0; j < QK / 2; j++) {
      const x0 = Math.fround(x[i * QK + j] * id);
      const x1 = Math.fround(x[i * QK + QK / 2 + j] * id);
      const xi0 = Math.min(31, Math.trunc(Math.fround(x0 + 16.5)));
      const xi1 = Math.min(31, Math.trunc(Math.fround(x1 + 16.5)));
      out[o + 6 + j] = (xi0 & 0x0f) | ((xi1 & 0x0f) << 4);
      qh |= ((xi0 & 0x10) >> 4) << j;
      qh |= ((xi1 & 0x10) >> 4) << (j + QK / 2);
    }
    view.setUint32(o + 2, qh >>> 0, true);
  }
  return out;
}

export function dequantizeQ5_0(bytes: Uint8Array, n: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const y = new Float32Array(n);
  for (let i = 0; i < n / QK; i++) {
    const o = i * BLOCK_BYTES;
    const d = fp16ToFp32(view.getUint16(o, true));
    const qh = view.getUint32(o + 2, true);
    for (let j = 0; j < QK / 2; j++) {
      const xh0 = ((qh >>> j) << 4) & 0x10;
      const xh1 = (qh >>> (j + 12)) & 0x10;
      const q = bytes[o + 6 + j];
      y[i * QK + j] = (((q & 0x0f) | xh0) - 16) * d;
      y[i * QK + j + QK / 2] = (((q >> 4) | xh1) - 16) * d;
    }
  }
  return y;
}
