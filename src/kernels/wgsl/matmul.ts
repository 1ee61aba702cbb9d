// WGSL matmul over weights in their ggml encoding: out[t][r] (+)= Σ_c W[r][c]·x[t][c]. A workgroup of
// 64 threads takes 64/TPR rows × up to TB tokens; the TPR threads of a row walk its 32-value chunks
// (adjacent threads, adjacent blocks: coalesced reads), decode each chunk once and dot it with every
// token's activations, then sum across the row's threads. Decode (one token) is a memory-bound
// matrix-vector product, and each weight byte is read once per TB tokens during prefill.
import { GgmlType } from '../../gguf/ggml-types.ts';
import { TWO_SUM_WGSL } from './norm-rope.ts';
import { BYTE_HELPERS, decodeChunkWgsl } from './weight-decode.ts';

/** Tokens per workgroup: partial sums kept in registers per thread. */
export const MATMUL_TOKENS_PER_GROUP = 8;
export const MATMUL_GROUP_SIZE = 64;

/**
 * Threads per row: the largest power of two up to `max` (64) not above the row's chunk count. A
 * software adapter (SwiftShader) gets 1: its workgroup barriers cost more than a serial row.
 */
export function matmulThreadsPerRow(cols: number, max = 64): number {
  const chunks = cols / 32;
  let tpr = 1;
  while (tpr * 2 <= Math.min(max, chunks)) tpr *= 2;
  return tpr;
}

/**
 * Whether a weight type's matmul sums exactly (hi + lo pairs): F16 and BF16, whose products with
 * activations rounded to the same type are exact in f32. Their outputs are rounded to f16 again
 * before the next matmul, whose step is only 2^13 f32 ulps, so a plain f32 sum (off by ~100 ulps
 * over a row) flips a few percent of them; ggml sums these in double-like precision, and so do we.
 */
export function matmulSumsExactly(type: number): boolean {
  return type === GgmlType.F16 || type === GgmlType.BF16;
}

/**
 * Uniform P: rows, cols, n (tokens), row_bytes, accumulate (0: out =, 1: out +=), groups_x (the
 * dispatch is folded into x·y when the row groups exceed the per-dimension limit), x_off, out_off
 * (element offsets into X and Y).
 */
export function matmulWgsl(type: number, threadsPerRow: number): string {
  const TB = MATMUL_TOKENS_PER_GROUP,
    WG = MATMUL_GROUP_SIZE;
  const exact = matmulSumsExactly(type);
  // acc[t] is an f32, or (hi, lo) when summing exactly.
  const accType = exact ? 'vec2<f32>' : 'f32';
  const addTerm = exact ? 'let u = two_sum(acc[t].x, w[i] * X[xo + i]); acc[t] = vec2<f32>(u.x, acc[t].y + u.y);' : 's += w[i] * X[xo + i];';
  const merge = exact
    ? 'let a = red[lid * TB + t]; let b = red[(lid + s) * TB + t]; let u = two_sum(a.x, b.x); red[lid * TB + t] = vec2<f32>(u.x, a.y + b.y + u.y);'
    : 'red[lid * TB + t] += red[(lid + s) * TB + t];';
  return /* wgsl */ `
struct P { rows: u32, cols: u32, n: u32, row_bytes: u32, accumulate: u32, groups_x: u32, x_off: u32, out_off: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
const TPR: u32 = ${threadsPerRow}u;
const TB: u32 = ${TB}u;
${threadsPerRow === 1 ? '' : `var<workgroup> red: array<${accType}, ${WG * TB}>;`}
${BYTE_HELPERS}
${exact ? TWO_SUM_WGSL : ''}
${decodeChunkWgsl(type)}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let row = (wid.x + wid.y * p.groups_x) * (${WG}u / TPR) + lid / TPR;
  let lane = lid % TPR;
  let t0 = wid.z * TB;
  let nt = min(TB, p.n - t0);
  var acc: array<${accType}, ${TB}>;
  if (row < p.rows) {
    let rb = row * p.row_bytes;
    let chunks = p.cols / 32u;
    for (var c = lane; c < chunks; c += TPR) {
      let w = decode_chunk(rb, c);
      for (var t = 0u; t < nt; t++) {
        let xo = p.x_off + (t0 + t) * p.cols + c * 32u;
        ${exact ? '' : 'var s = 0.0;'}
        for (var i = 0u; i < 32u; i++) { ${addTerm} }
        ${exact ? '' : 'acc[t] += s;'}
      }
    }
  }
${
  threadsPerRow === 1
    ? ''
    : /* wgsl */ `
  for (var t = 0u; t < TB; t++) { red[lid * TB + t] = acc[t]; }
  workgroupBarrier();
  for (var s = TPR / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      for (var t = 0u; t < TB; t++) { ${merge} }
    }
    workgroupBarrier();
  }
  for (var t = 0u; t < TB; t++) { acc[t] = red[lid * TB + t]; }`
}
  if (lane == 0u && row < p.rows) {
    for (var t = 0u; t < nt; t++) {
      let o = p.out_off + (t0 + t) * p.rows + row;
      let v = ${exact ? 'acc[t].x + acc[t].y' : 'acc[t]'};
      if (p.accumulate != 0u) { Y[o] = Y[o] + v; } else { Y[o] = v; }
    }
  }
}
`;
}
