// WGSL causal grouped-query attention over a KV cache, one workgroup per (head, token): positions go
// through in tiles of 64, one score per thread, with a running max and sum (online softmax) so no
// score buffer is needed whatever the context length; each thread owns up to 4 output dims.
// Scores are q·k·scale in f32 and exp(s - max) weights v, as llama.cpp's non-flash path computes them.

export const ATTENTION_MAX_HEAD_DIM = 256;

/** Uniform P: n_tokens, pos0, n_head, n_head_kv, head_dim, scale, q_off, k_off (layer base in K/V). */
export const ATTENTION_WGSL = /* wgsl */ `
struct P { n_tokens: u32, pos0: u32, n_head: u32, n_head_kv: u32, head_dim: u32, scale: f32, q_off: u32, o_off: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> K: array<f32>;
@group(0) @binding(3) var<storage, read> V: array<f32>;
@group(0) @binding(4) var<storage, read_write> O: array<f32>;
var<workgroup> S: array<f32, 64>;
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
