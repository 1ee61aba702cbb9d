// WGSL causal grouped-query attention over a KV cache, one workgroup per (head, token): positions go
// through in tiles of 64, one score per thread, with a running max and sum (online softmax) so no
// score buffer is needed whatever the context length; each thread owns up to 4 output dims.
// Scores are q·k·scale in f32 and exp(s - max) weights v, as llama.cpp's non-flash path computes them.
//
// An f16 cache (attentionWgsl(true, …)) computes what llama.cpp does with its default F16 cache and
// no flash attention: keys and values are fp16, and so are both matmul inputs, q for q·k and the
// normalized softmax for p·v (ggml converts them to fp16 before its f16 dot products). That takes the
// softmax's max and sum before any weight is applied: a first pass over the positions, then the
// weighted sum. Measured on lavapipe against llama.cpp's F16 cache (top-5 log-probs, 17 positions):
// tiny-llama-f32 at most 7.6e-6 this way and 1.6e-3 with q and p left in f32; tiny-llama-f16 2.4e-3
// (one position; median 4e-6) against 6.2e-3.
//
// With shader-f16 the cache can also be held as f16 (f16Storage; STORE_KV_F16_WGSL): half the
// memory and half the bytes read per token, the bottleneck of decoding at long contexts, with the
// same values (already rounded to fp16 when stored) widened to f32 before any arithmetic: the
// results are the f32-held cache's, bit for bit.
import { ROUND_F16_WGSL } from './round-activations.ts';

export const ATTENTION_MAX_HEAD_DIM = 256;

/**
 * Uniform P: n_tokens, pos0, n_head, n_head_kv, head_dim, scale, q_off, o_off. `f16Cache`: llama.cpp's
 * F16-cache arithmetic (see above). `f16Storage` (needs the device feature shader-f16 and f16Cache):
 * K and V are array<f16>.
 */
export function attentionWgsl(f16Cache: boolean, f16Storage = false): string {
  if (f16Storage && !f16Cache) throw new Error('an f16-held KV cache is an f16 cache: attentionWgsl(true, true)');
  const kv = f16Storage ? 'f16' : 'f32';
  const read = (e: string): string => (f16Storage ? `f32(${e})` : e);
  const head = /* wgsl */ `${f16Storage ? 'enable f16;' : ''}
struct P { n_tokens: u32, pos0: u32, n_head: u32, n_head_kv: u32, head_dim: u32, scale: f32, q_off: u32, o_off: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> K: array<${kv}>;
@group(0) @binding(3) var<storage, read> V: array<${kv}>;
@group(0) @binding(4) var<storage, read_write> O: array<f32>;
var<workgroup> S: array<f32, 64>;`;
  if (!f16Cache)
    return /* wgsl */ `${head}
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let h = wid.x;
  let t = wid.y;
  let kv_dim = p.n_head_kv * p.head_dim;
  let ko = (h / (p.n_head / p.n_head_kv)) * p.head_dim;
  let qo = p.q_off + (t * p.n_head + h) * p.head_dim;
  let visible = p.pos0 + t + 1u;
  var m = -3.0e38;
  var l = 0.0;
  var acc: array<f32, 4>;
  for (var j0 = 0u; j0 < visible; j0 += 64u) {
    let j = j0 + lid;
    var s = -3.0e38;
    if (j < visible) {
      var qk = 0.0;
      let kb = j * kv_dim + ko;
      for (var i = 0u; i < p.head_dim; i++) { qk += Q[qo + i] * K[kb + i]; }
      s = qk * p.scale;
    }
    S[lid] = s;
    workgroupBarrier();
    let cnt = min(64u, visible - j0);
    var mt = m;
    for (var i = 0u; i < cnt; i++) { mt = max(mt, S[i]); }
    let corr = exp(m - mt);
    l *= corr;
    for (var k = 0u; k < 4u; k++) { acc[k] *= corr; }
    for (var i = 0u; i < cnt; i++) {
      let pj = exp(S[i] - mt);
      l += pj;
      let vb = (j0 + i) * kv_dim + ko;
      for (var k = 0u; k < 4u; k++) {
        let d = lid + 64u * k;
        if (d < p.head_dim) { acc[k] += pj * V[vb + d]; }
      }
    }
    m = mt;
    workgroupBarrier();
  }
  for (var k = 0u; k < 4u; k++) {
    let d = lid + 64u * k;
    if (d < p.head_dim) { O[p.o_off + (t * p.n_head + h) * p.head_dim + d] = acc[k] / l; }
  }
}
`;
  // Both passes compute the tile's scores (the second again, rather than keeping them: no KV-length buffer).
  const scoreTile = `    let j = j0 + lid;
    var s = -3.0e38;
    if (j < visible) {
      var qk = 0.0;
      let kb = j * kv_dim + ko;
      for (var i = 0u; i < p.head_dim; i++) { qk += QH[i] * ${read('K[kb + i]')}; }
      s = qk * p.scale;
    }
    S[lid] = s;
    workgroupBarrier();
`;
  return /* wgsl */ `${head}
var<workgroup> QH: array<f32, ${ATTENTION_MAX_HEAD_DIM}>;
${ROUND_F16_WGSL}
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let h = wid.x;
  let t = wid.y;
  let kv_dim = p.n_head_kv * p.head_dim;
  let ko = (h / (p.n_head / p.n_head_kv)) * p.head_dim;
  let qo = p.q_off + (t * p.n_head + h) * p.head_dim;
  let visible = p.pos0 + t + 1u;
  for (var d = lid; d < p.head_dim; d += 64u) { QH[d] = round_f16(Q[qo + d]); }
  workgroupBarrier();
  // Pass 1: the scores' max and the sum of exp(s - max).
  var m = -3.0e38;
  var l = 0.0;
  for (var j0 = 0u; j0 < visible; j0 += 64u) {
${scoreTile}    let cnt = min(64u, visible - j0);
    var mt = m;
    for (var i = 0u; i < cnt; i++) { mt = max(mt, S[i]); }
    l *= exp(m - mt);
    for (var i = 0u; i < cnt; i++) { l += exp(S[i] - mt); }
    m = mt;
    workgroupBarrier();
  }
  // Pass 2: the scores again, each normalized and rounded to fp16, weighting V.
  let inv = 1.0 / l;
  var acc: array<f32, 4>;
  for (var j0 = 0u; j0 < visible; j0 += 64u) {
${scoreTile}    let cnt = min(64u, visible - j0);
    for (var i = 0u; i < cnt; i++) {
      let pj = round_f16(exp(S[i] - m) * inv);
      let vb = (j0 + i) * kv_dim + ko;
      for (var k = 0u; k < 4u; k++) {
        let d = lid + 64u * k;
        if (d < p.head_dim) { acc[k] += pj * ${read('V[vb + d]')}; }
      }
    }
    workgroupBarrier();
  }
  for (var k = 0u; k < 4u; k++) {
    let d = lid + 64u * k;
    if (d < p.head_dim) { O[p.o_off + (t * p.n_head + h) * p.head_dim + d] = acc[k]; }
  }
}
`;
}

export const ATTENTION_WGSL = attentionWgsl(false);

/**
 * STORE_KV_WGSL for an f16 cache held as f16: same uniform (len, dst_off, f16; the flag is ignored,
 * an f16 cache always rounds). round_f16 first: the value is then exactly representable, so the
 * conversion cannot round differently from ggml's fp32_to_fp16 whatever rounding the GPU applies.
 */
export const STORE_KV_F16_WGSL = /* wgsl */ `enable f16;
struct P { len: u32, dst_off: u32, f16: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> K: array<f32>;
@group(0) @binding(2) var<storage, read> V: array<f32>;
@group(0) @binding(3) var<storage, read_write> KC: array<f16>;
@group(0) @binding(4) var<storage, read_write> VC: array<f16>;
${ROUND_F16_WGSL}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = gid.x + gid.y * nw.x * 64u;
  if (i >= p.len) { return; }
  KC[p.dst_off + i] = f16(round_f16(K[i]));
  VC[p.dst_off + i] = f16(round_f16(V[i]));
}
`;
