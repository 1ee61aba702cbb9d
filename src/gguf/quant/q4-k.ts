// Q4_K: super-blocks of 256 values in 8 sub-blocks of 32, each with a 6-bit scale and min under fp16
// d/dmin; 4-bit quants (144 bytes). Mirrors quantize_row_q4_K_ref / dequantize_row_q4_K.
import { fp16ToFp32, fp32ToFp16 } from './half.ts';
import { dequantScaleMins, QK_K, quantizeScaleMinBlock } from './k-common.ts';

const BLOCK_BYTES = 144;
const f = Math.fround;

export function quantizeQ4_K(x: Float32Array): Uint8Array {
  const nb = x.length / QK_K;
  const out = new Uint8Array(nb * BLOCK_BYTES);
  const view = new DataView(out.buffer);
  const L = new Uint8Array(QK_K);
  for (let i = 0; i < nb; i++) {
    const o = i * BLOCK_BYTES;
    quantizeScaleMinBlock(x, i * QK_K, 15, -1, 20, out, view, o, L, fp32ToFp16, fp16ToFp32);
    let q = o + 16;
    for (let j = 0; j < QK_K; j += 64) {
      for (let l = 0; l < 32; l++) out[q + l] = L[j + l] | (L[j + l + 32] << 4);
      q += 32;
    }
  }
  return out;
}

export function dequantizeQ4_K(bytes: Uint8Array, n: number): Float32Array {
  const y = new Float32Array(n);
  const ds = new Float32Array(8);
  const dms = new Float32Array(8);
  let k = 0;
  for (let i = 0; i < n / QK_K; i++) {
    const o = i * BLOCK_BYTES;
    dequantScaleMins(bytes, o, ds, dms);
    let q = o + 16;
    for (let is = 0; is < 8; is += 2) {
      const d1 = ds[is],
        dm1 = dms[is],
        d2 = ds[is + 1],
        dm2 = dms[is + 1];
      for (let l = 0; l < 32; l++) y[k++] = f(d1 * (bytes[q + l] & 0xf)) - dm1;
      for (let l = 0; l < 32; l++) y[k++] = f(d2 * (bytes[q + l] >> 4)) - dm2;
      q += 32;
    }
  }
  return y;
}
