// Q5_K: like Q4_K with a fifth bit per value in 32 extra bytes (176 bytes per 256 values). Mirrors
// quantize_row_q5_K_ref / dequantize_row_q5_K.
import { fp16ToFp32, fp32ToFp16 } from './half.ts';
import { getScaleMinK4, QK_K, quantizeScaleMinBlock } from './k-common.ts';

const BLOCK_BYTES = 176;
const f = Math.fround;

export function quantizeQ5_K(x: Float32Array): Uint8Array {
  const nb = x.length / QK_K;
  const out = new Uint8Array(nb * BLOCK_BYTES);
  const view = new DataView(out.buffer);
  const L = new Uint8Array(QK_K);
  for (let i = 0; i < nb; i++) {
    const o = i * BLOCK_BYTES;
    quantizeScaleMinBlock(x, i * QK_K, 31, -0.5, 15, out, view, o, L, fp32ToFp16, fp16ToFp32);
    const qh = o + 16;
    let ql = o + 48;
    let m1 = 1;
    let m2 = 2;
    for (let n = 0; n < QK_K; n += 64) {
      for (let j = 0; j < 32; j++) {
        let l1 = L[n + j];
        if (l1 > 15) { l1 -= 16; out[qh + j] |= m1; }
        let l2 = L[n + j + 32];
        if (l2 > 15) { l2 -= 16; out[qh + j] |= m2; }
        out[ql + j] = l1 | (l2 << 4);
      }
      m1 <<= 2;
      m2 <<= 2;
      ql += 32;
    }
  }
  return out;
}

export function dequantizeQ5_K(bytes: Uint8Array, n: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const y = new Float32Array(n);
  let k = 0;
  for (let i = 0; i < n / QK_K; i++) {
    const o = i * BLOCK_BYTES;
    const d = fp16ToFp32(view.getUint16(o, true));
    const min = fp16ToFp32(view.getUint16(o + 2, true));
    const qh = o + 16;
    let ql = o + 48;
    let u1 = 1;
    let u2 = 2;
    for (let j = 0, is = 0; j < QK_K; j += 64, is += 2) {
      const [sc1, m1] = getScaleMinK4(is, bytes, o + 4);
      const [sc2, m2] = getScaleMinK4(is + 1, bytes, o + 4);
      const d1 = f(d * sc1), dm1 = f(min * m1), d2 = f(d * sc2), dm2 = f(min * m2);
      for (let l = 0; l < 32; l++) y[k++] = f(d1 * ((bytes[ql + l] & 0xf) + (bytes[qh + l] & u1 ? 16 : 0))) - dm1;
      for (let l = 0; l < 32; l++) y[k++] = f(d2 * ((bytes[ql + l] >> 4) + (bytes[qh + l] & u2 ? 16 : 0))) - dm2;
      ql += 32;
      u1 <<= 2;
      u2 <<= 2;
    }
  }
  return y;
}
