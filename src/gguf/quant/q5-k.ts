// Q5_K: like Q4_K with a fifth bit per value in 32 extra bytes (176 bytes per 256 values). Mirrors
// quantize_row_q5_K_ref / dequantize_row_q5_K.
import { fp16ToFp32, fp32ToFp16 } from './half.ts';
import { dequantScaleMins, QK_K, quantizeScaleMinBlock } from './k-common.ts';

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
        if (l1 > 15) {
          l1 -= 16;
          out[qh + j] |= m1;
        }
        let l2 = L[n + j + 32];
        if (l2 > 15) {
          l2 -= 16;
          out[qh + j] |= m2;
        }
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
  const y = new Float32Array(n);
  const ds = new Float32Array(8);
  const dms = new Float32Array(8);
  let k = 0;
  for (let i = 0; i < n / QK_K; i++) {
    const o = i * BLOCK_BYTES;
    dequantScaleMins(bytes, o, ds, dms);
    const qh = o + 16;
    let ql = o + 48;
    let u1 = 1;
    let u2 = 2;
    for (let is = 0; is < 8; is += 2) {
      const d1 = ds[is],
        dm1 = dms[is],
        d2 = ds[is + 1],
        dm2 = dms[is + 1];
      for (let l = 0; l < 32; l++) y[k++] = f(d1 * ((bytes[ql + l] & 0xf) + (bytes[qh + l] & u1 ? 16 : 0))) - dm1;
      for (let l = 0; l < 32; l++) y[k++] = f(d2 * ((bytes[ql + l] >> 4) + (bytes[qh + l] & u2 ? 16 : 0))) - dm2;
      ql += 32;
      u1 <<= 2;
      u2 <<= 2;
    }
  }
  return y;
}
