// Helpers shared by the K-quant formats, transcribed from ggml-quants.c with every float operation
// rounded to float32 (Math.fround) in the C evaluation order, so the chosen scales and quants match
// llama.cpp's reference quantizers bit for bit.
import { fp16ToFp32 } from './half.ts';
import { nearestInt } from './rounding.ts';

const f = Math.fround;
export const QK_K = 256;
const GROUP_MAX_EPS = f(1e-15);

/**
 * make_qkx2_quants: scale and min for a group of `n` values (quants 0..nmax) minimising the weighted
 * error over a small search of scales. Writes quants to L[lOff..]; returns [scale, -min].
 */
export function makeQkx2Quants(
  n: number,
  nmax: number,
  x: Float32Array,
  xOff: number,
  weights: Float32Array,
  L: Uint8Array,
  lOff: number,
  Laux: Uint8Array,
  rmin: number,
  rdelta: number,
  nstep: number,
): [number, number] {
  let min = x[xOff];
  let max = x[xOff];
  let sumW = weights[0];
  let sumX = f(sumW * x[xOff]);
  for (let i = 1; i < n; i++) {
    const xi = x[xOff + i];
    if (xi < min) min = xi;
    if (xi > max) max = xi;
    const w = weights[i];
    sumW = f(sumW + w);
    sumX = f(sumX + f(w * xi));
  }
  if (min > 0) min = 0;
  if (max === min) {
    for (let i = 0; i < n; i++) L[lOff + i] = 0;
    return [0, -min];
  }
  let iscale = f(nmax / f(max - min));
  let scale = f(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = nearestInt(f(iscale * f(x[xOff + i] - min)));
    const q = Math.max(0, Math.min(nmax, l));
    L[lOff + i] = q;
    let diff = f(f(f(scale * q) + min) - x[xOff + i]);
    diff = f(diff * diff);
    bestError = f(bestError + f(weights[i] * diff));
  }
  if (nstep < 1) return [scale, -min];
  for (let is = 0; is <= nstep; is++) {
    iscale = f(f(f(rmin + f(rdelta * is)) + nmax) / f(max - min));
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xOff + i];
      let l = nearestInt(f(iscale * f(xi - min)));
      l = Math.max(0, Math.min(nmax, l));
      Laux[i] = l;
      const w = weights[i];
      const wl = f(w * l);
      sumL = f(sumL + wl);
      sumL2 = f(sumL2 + f(wl * l));
      sumXL = f(sumXL + f(wl * xi));
    }
    const D = f(f(sumW * sumL2) - f(sumL * sumL));
    if (D > 0) {
      let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
      let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        let diff = f(f(f(thisScale * Laux[i]) + thisMin) - x[xOff + i]);
        diff = f(diff * diff);
        curError = f(curError + f(weights[i] * diff));
      }
      if (curError < bestError) {
        for (let i = 0; i < n; i++) L[lOff + i] = Laux[i];
        bestError = curError;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  return [scale, -min];
}

/**
 * make_qx_quants with rmse_type 1 and no importance weights (what quantize_row_q6_K_ref uses):
 * symmetric quants in [0, 2·nmax), written to L[lOff..]; returns the scale.
 */
export function makeQxQuants(n: number, nmax: number, x: Float32Array, xOff: number, L: Int8Array, lOff: number): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xOff + i]);
    if (ax > amax) {
      amax = ax;
      max = x[xOff + i];
    }
  }
  if (amax < GROUP_MAX_EPS) {
    for (let i = 0; i < n; i++) L[lOff + i] = 0;
    return 0;
  }
  let iscale = f(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xOff + i];
    let l = nearestInt(f(iscale * xi));
    l = Math.max(-nmax, Math.min(nmax - 1, l));
    L[lOff + i] = l + nmax;
    const w = f(xi * xi);
    sumlx = f(sumlx + f(f(w * xi) * l));
    suml2 = f(suml2 + f(f(w * l) * l));
  }
  let scale = suml2 ? f(sumlx / suml2) : 0;
  let best = f(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = f(-f(nmax + f(f(0.1) * is)) / max);
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xOff + i];
      let l = nearestInt(f(iscale * xi));
      l = Math.max(-nmax, Math.min(nmax - 1, l));
      const w = f(xi * xi);
      sumlx = f(sumlx + f(f(w * xi) * l));
      suml2 = f(suml2 + f(f(w * l) * l));
    }
    if (suml2 > 0 && f(sumlx * sumlx) > f(best * suml2)) {
      for (let i = 0; i < n; i++) {
        const l = nearestInt(f(iscale * x[xOff + i]));
        L[lOff + i] = nmax + Math.max(-nmax, Math.min(nmax - 1, l));
      }
      scale = f(sumlx / suml2);
      best = f(scale * sumlx);
    }
  }
  return scale;
}

/** get_scale_min_k4: the 6-bit scale and min of sub-block j from the 12 packed bytes at q[off..]. */
export function getScaleMinK4(j: number, q: Uint8Array, off: number): [number, number] {
  if (j < 4) return [q[off + j] & 63, q[off + j + 4] & 63];
  return [(q[off + j + 4] & 0xf) | ((q[off + j - 4] >> 6) << 4), (q[off + j + 4] >> 4) | ((q[off + j] >> 6) << 4)];
}

/**
 * The sub-block scales dequantize_row_q4_K / q5_K apply, from the super-block at bytes[o..]: fp16 d
 * and dmin, then the 12 packed scale bytes. Writes d·scale to ds[j] and dmin·min to dms[j] for the
 * 8 sub-blocks, each rounded to float32 as the C code does.
 */
export function dequantScaleMins(bytes: Uint8Array, o: number, ds: Float32Array, dms: Float32Array): void {
  const d = fp16ToFp32(bytes[o] | (bytes[o + 1] << 8));
  const min = fp16ToFp32(bytes[o + 2] | (bytes[o + 3] << 8));
  for (let j = 0; j < 8; j++) {
    const [sc, m] = getScaleMinK4(j, bytes, o + 4);
    ds[j] = f(d * sc);
    dms[j] = f(min * m);
  }
}

// Per-block working arrays, reused: quantizing is synchronous, so no two calls ever share them.
const scratch = { weights: new Float32Array(32), Laux: new Uint8Array(32), scales: new Float32Array(8), mins: new Float32Array(8) };

/**
 * The part of quantize_row_q4_K_ref / q5_K_ref they share: per 32-value sub-block scale and min by
 * make_qkx2_quants, packed as 6-bit values under fp16 super-scales d and dmin, then the final quants
 * (0..nmax) into L. Writes d, dmin and the 12 scale bytes at out[o..o+16).
 */
export function quantizeScaleMinBlock(
  x: Float32Array,
  xOff: number,
  nmax: number,
  rmin: number,
  nstep: number,
  out: Uint8Array,
  view: DataView,
  o: number,
  L: Uint8Array,
  fp32ToFp16: (v: number) => number,
  fp16ToFp32: (h: number) => number,
): void {
  const { weights, Laux, scales, mins } = scratch;
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) {
      const v = x[xOff + 32 * j + l];
      sumX2 = f(sumX2 + f(v * v));
    }
    const avX = f(Math.sqrt(f(sumX2 / 32)));
    for (let l = 0; l < 32; l++) weights[l] = f(avX + Math.abs(x[xOff + 32 * j + l]));
    const [scale, min] = makeQkx2Quants(32, nmax, x, xOff + 32 * j, weights, L, 32 * j, Laux, rmin, f(0.1), nstep);
    scales[j] = scale;
    mins[j] = min;
    if (scales[j] > maxScale) maxScale = scales[j];
    if (mins[j] > maxMin) maxMin = mins[j];
  }
  const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
  const sc = o + 4;
  for (let j = 0; j < 12; j++) out[sc + j] = 0;
  for (let j = 0; j < 8; j++) {
    const ls = Math.min(63, nearestInt(f(invScale * scales[j])) & 0xff);
    const lm = Math.min(63, nearestInt(f(invMin * mins[j])) & 0xff);
    if (j < 4) {
      out[sc + j] = ls;
      out[sc + j + 4] = lm;
    } else {
      out[sc + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
      out[sc + j - 4] |= (ls >> 4) << 6;
      out[sc + j] |= (lm >> 4) << 6;
    }
  }
  const dBits = fp32ToFp16(f(maxScale / 63));
  const dminBits = fp32ToFp16(f(maxMin / 63));
  view.setUint16(o, dBits, true);
  view.setUint16(o + 2, dminBits, true);
  const dSuper = fp16ToFp32(dBits);
  const dminSuper = fp16ToFp32(dminBits);
  for (let j = 0; j < 8; j++) {
    const [s, m] = getScaleMinK4(j, out, sc);
    const d = f(dSuper * s);
    if (!d) continue;
    const dm = f(dminSuper * m);
    for (let ii = 0; ii < 32; ii++) {
      const l = nearestInt(f(f(x[xOff + 32 * j + ii] + dm) / d));
      L[32 * j + ii] = Math.max(0, Math.min(nmax, l));
    }
  }
}
