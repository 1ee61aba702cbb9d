// Q6_K: super-blocks of 256 values in 16 sub-blocks of 16 with int8 scales under one fp16 d; 6-bit
// quants split into low nibbles and high 2-bit pairs (210 bytes). Mirrors quantize_row_q6_K_ref.
import { fp16ToFp32, fp32ToFp16 } from './half.ts';
import { makeQxQuants, QK_K } from './k-common.ts';
import { nearestInt } from './rounding.ts';

const BLOCK_BYTES = 210;
const f = Math.fround;
const GROUP_MAX_EPS = f(1e-15);
// Byte offsets inside a block.
const QL = 0;
const QH = 128;
const SCALES = 192;
const D = 208;

export function quantizeQ6_K(x: Float32Array): Uint8Array {
  const nb = x.length / QK_K;
  const out = new Uint8Array(nb * BLOCK_BYTES);
  const view = new DataView(out.buffer);
  const L = new Int8Array(QK_K);
  const scales = new Float32Array(QK_K / 16);
  for (let i = 0; i < nb; i++) {
    const o = i * BLOCK_BYTES;
    const xo = i * QK_K;
    let maxScale = 0;
    let maxAbsScale = 0;
    for (let ib = 0; ib < QK_K / 16; ib++) {
      const scale = makeQxQuants(16, 32, x, xo + 16 * ib, L, 16 * ib);
      scales[ib] = scale;
      const abs = Math.abs(scale);
      if (abs > maxAbsScale) {
        maxAbsScale = abs;
        maxScale = scale;
      }
    }
    if (maxAbsScale < GROUP_MAX_EPS) continue; // an all-zero block (d = +0)
    const iscale = f(-128 / maxScale);
    const dBits = fp32ToFp16(f(1 / iscale));
    view.setUint16(o + D, dBits, true);
    for (let ib = 0; ib < QK_K / 16; ib++) view.setInt8(o + SCALES + ib, Math.min(127, nearestInt(f(iscale * scales[ib]))));
    const dSuper = fp16ToFp32(dBits);
    for (let j = 0; j < QK_K / 16; j++) {
      const d = f(dSuper * view.getInt8(o + SCALES + j));
      if (!d) continue;
      for (let ii = 0; ii < 16; ii++) {
        const l = nearestInt(f(x[xo + 16 * j + ii] / d));
        L[16 * j + ii] = Math.max(-32, Math.min(31, l)) + 32;
      }
    }
    let ql = o + QL;
    let qh = o + QH;
    for (let j = 0; j < QK_K; j += 128) {
      for (let l = 0; l < 32; l++) {
        const q1 = L[j + l] & 0xf;
        const q2 = L[j + l + 32] & 0xf;
        const q3 = L[j + l + 64] & 0xf;
        const q4 = L[j + l + 96] & 0xf;
        out[ql + l] = q1 | (q3 << 4);
        out[ql + l + 32] = q2 | (q4 << 4);
        out[qh + l] = (L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6);
      }
      ql += 64;
      qh += 32;
    }
  }
  return out;
}

export function dequantizeQ6_K(bytes: Uint8Array, n: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const y = new Float32Array(n);
  for (let i = 0; i < n / QK_K; i++) {
    const o = i * BLOCK_BYTES;
    const d = fp16ToFp32(view.getUint16(o + D, true));
    let ql = o + QL;
    let qh = o + QH;
    let sc = o + SCALES;
    let yo = i * QK_K;
    for (let n2 = 0; n2 < QK_K; n2 += 128) {
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = bytes[qh + l];
        const q1 = ((bytes[ql + l] & 0xf) | (((h >> 0) & 3) << 4)) - 32;
        const q2 = ((bytes[ql + l + 32] & 0xf) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((bytes[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((bytes[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
        y[yo + l] = f(d * view.getInt8(sc + is)) * q1;
        y[yo + l + 32] = f(d * view.getInt8(sc + is + 2)) * q2;
        y[yo + l + 64] = f(d * view.getInt8(sc + is + 4)) * q3;
        y[yo + l + 96] = f(d * view.getInt8(sc + is + 6)) * q4;
      }
      yo += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
  return y;
}
