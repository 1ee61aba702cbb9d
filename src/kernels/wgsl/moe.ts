// Mixture-of-experts WGSL: gathering the rows of the tokens routed to one expert into a compact
// batch, and scattering that expert's outputs back, scaled by each token's routing weight.
// The index and weight lists live in one routing buffer (u32 token indices, then f32 weights as bits).

const INDEX = 'let i = gid.x + gid.y * nw.x * 64u;';

/** Uniform P: rows (m), dim, idx_off. XG[j][i] = X[R[idx_off + j]][i] for j < m. */
export const MOE_GATHER_WGSL = /* wgsl */ `
struct P { rows: u32, dim: u32, idx_off: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> R: array<u32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read_write> XG: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  ${INDEX}
  if (i >= p.rows * p.dim) { return; }
  let j = i / p.dim;
  XG[i] = X[R[p.idx_off + j] * p.dim + i % p.dim];
}
`;

/**
 * Uniform P: rows (m), dim, idx_off, w_off, accumulate. For j < m, with t = R[idx_off + j] and
 * w = bitcast<f32>(R[w_off + j]): OUT[t][i] = (accumulate ? OUT[t][i] : 0) + Y[j][i] * w. The product
 * is rounded to f32 before the sum, as the reference kernels (and ggml's separate mul and add) do.
 */
export const MOE_SCATTER_WGSL = /* wgsl */ `
struct P { rows: u32, dim: u32, idx_off: u32, w_off: u32, accumulate: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> R: array<u32>;
@group(0) @binding(2) var<storage, read> Y: array<f32>;
@group(0) @binding(3) var<storage, read_write> OUT: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  ${INDEX}
  if (i >= p.rows * p.dim) { return; }
  let j = i / p.dim;
  let o = R[p.idx_off + j] * p.dim + i % p.dim;
  let scaled = Y[i] * bitcast<f32>(R[p.w_off + j]);
  if (p.accumulate != 0u) {
    OUT[o] = OUT[o] + scaled;
  } else {
    OUT[o] = scaled;
  }
}
`;
