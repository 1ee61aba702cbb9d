// WGSL for RMS norm (one workgroup per row, as ggml_rms_norm then the weight multiply) and RoPE
// (one thread per rotated pair). RoPE takes its cos/sin table from the host, computed by the
// reference's ropeCache: GPU sin/cos are too loose for large angles (WGSL allows 2^-11 absolute
// error only within [-π, π]), and ggml builds the angles by repeated f32 products anyway.

/**
 * Error-free f32 arithmetic (Dekker/Knuth): enough to get ggml's double-precision sum of squares and
 * correctly rounded mean, sqrt and reciprocal out of f32 hardware, whose division and sqrt WGSL lets
 * be 2.5 ulp off. It matters for F16/BF16 models: a 1-ulp change in a normalized activation can flip
 * its rounding to f16 before the next matmul, and those flips moved log-probs by up to 5e-3.
 */
export const TWO_SUM_WGSL = /* wgsl */ `
fn two_sum(a: f32, b: f32) -> vec2<f32> {
  let s = a + b;
  let bb = s - a;
  return vec2<f32>(s, (a - (s - bb)) + (b - bb));
}
`;

export const EXACT_F32_WGSL = `${TWO_SUM_WGSL}
fn split(a: f32) -> vec2<f32> {
  let c = 4097.0 * a;
  let hi = c - (c - a);
  return vec2<f32>(hi, a - hi);
}
fn two_prod(a: f32, b: f32) -> vec2<f32> {
  let p = a * b;
  let x = split(a);
  let y = split(b);
  return vec2<f32>(p, ((x.x * y.x - p) + x.x * y.y + x.y * y.x) + x.y * y.y);
}
// (hi + lo) / b, rounded once.
fn div_rn(hi: f32, lo: f32, b: f32) -> f32 {
  let q = hi / b;
  let p = two_prod(q, b);
  return q + (((hi - p.x) - p.y) + lo) / b;
}
fn sqrt_rn(x: f32) -> f32 {
  let s = sqrt(x);
  let p = two_prod(s, s);
  return s + ((x - p.x) - p.y) / (2.0 * s);
}
`;

/**
 * Uniform P: rows, dim, eps, has_weight, x_off, y_off. IN_PLACE: one read-write buffer X (qwen3's
 * per-head q/k norms); otherwise X is read and Y written. Squares are summed as (hi, lo) pairs.
 */
export function rmsnormWgsl(inPlace: boolean): string {
  const out = inPlace ? 'X' : 'Y';
  return /* wgsl */ `
struct P { rows: u32, dim: u32, eps: f32, has_weight: u32, x_off: u32, y_off: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> G: array<f32>;
${
  inPlace
    ? '@group(0) @binding(2) var<storage, read_write> X: array<f32>;'
    : '@group(0) @binding(2) var<storage, read> X: array<f32>;\n@group(0) @binding(3) var<storage, read_write> Y: array<f32>;'
}
var<workgroup> red: array<vec2<f32>, 64>;
${EXACT_F32_WGSL}
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let row = wid.x + wid.y * nw.x;
  let xo = p.x_off + row * p.dim;
  var s = vec2<f32>(0.0, 0.0);
  if (row < p.rows) {
    for (var i = lid; i < p.dim; i += 64u) {
      let v = X[xo + i];
      let t = two_sum(s.x, v * v);
      s = vec2<f32>(t.x, t.y + s.y);
    }
  }
  red[lid] = s;
  workgroupBarrier();
  for (var k = 32u; k > 0u; k >>= 1u) {
    if (lid < k) {
      let a = red[lid];
      let b = red[lid + k];
      let t = two_sum(a.x, b.x);
      red[lid] = vec2<f32>(t.x, t.y + a.y + b.y);
    }
    workgroupBarrier();
  }
  if (row >= p.rows) { return; }
  let sum = two_sum(red[0].x, red[0].y);
  let mean = div_rn(sum.x, sum.y, f32(p.dim));
  let scale = div_rn(1.0, 0.0, sqrt_rn(mean + p.eps));
  let yo = ${inPlace ? 'xo' : 'p.y_off + row * p.dim'};
  for (var i = lid; i < p.dim; i += 64u) {
    let v = X[xo + i] * scale;
    ${out}[yo + i] = select(v, v * G[i], p.has_weight != 0u);
  }
}
`;
}

/** Uniform P: n_tokens, n_heads, head_dim, n_rot, neox, x_off. CS: [token][n_rot] as (cos, sin) pairs. */
export const ROPE_WGSL = /* wgsl */ `
struct P { n_tokens: u32, n_heads: u32, head_dim: u32, n_rot: u32, neox: u32, x_off: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> CS: array<f32>;
@group(0) @binding(2) var<storage, read_write> X: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let hr = p.n_rot / 2u;
  let idx = gid.x + gid.y * nw.x * 64u;
  if (idx >= p.n_tokens * p.n_heads * hr) { return; }
  let i = idx % hr;
  let th = idx / hr;
  let t = th / p.n_heads;
  let base = p.x_off + th * p.head_dim;
  let j = base + select(2u * i, i, p.neox != 0u);
  let off = select(1u, hr, p.neox != 0u);
  let c = CS[t * p.n_rot + 2u * i];
  let s = CS[t * p.n_rot + 2u * i + 1u];
  let x0 = X[j];
  let x1 = X[j + off];
  X[j] = x0 * c - x1 * s;
  X[j + off] = x0 * s + x1 * c;
}
`;
