// Elementwise WGSL: SwiGLU, bias add, and storing a batch's keys and values into the KV cache
// (rounded to fp16 when the cache is f16, as llama.cpp's default cache stores them).
import { ROUND_F16_WGSL } from './round-activations.ts';

const INDEX = 'let i = gid.x + gid.y * nw.x * 64u;';

/** Uniform P: len. G = silu(G) * U in place (silu rounded to f32 before the product, as ggml). */
export const SWIGLU_WGSL = /* wgsl */ `
struct P { len: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> U: array<f32>;
@group(0) @binding(2) var<storage, read_write> G: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  ${INDEX}
  if (i >= p.len) { return; }
  let g = G[i];
  G[i] = (g / (1.0 + exp(-g))) * U[i];
}
`;

/** Uniform P: rows, dim, x_off. X[row][i] += B[i]. */
export const ADD_BIAS_WGSL = /* wgsl */ `
struct P { rows: u32, dim: u32, x_off: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> X: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  ${INDEX}
  if (i >= p.rows * p.dim) { return; }
  X[p.x_off + i] += B[i % p.dim];
}
`;

/** Uniform P: len (values of the batch), dst_off (pos0 · kv_dim), f16. Copies K→KC and V→VC. */
export const STORE_KV_WGSL = /* wgsl */ `
struct P { len: u32, dst_off: u32, f16: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> K: array<f32>;
@group(0) @binding(2) var<storage, read> V: array<f32>;
@group(0) @binding(3) var<storage, read_write> KC: array<f32>;
@group(0) @binding(4) var<storage, read_write> VC: array<f32>;
${ROUND_F16_WGSL}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  ${INDEX}
  if (i >= p.len) { return; }
  if (p.f16 != 0u) {
    KC[p.dst_off + i] = round_f16(K[i]);
    VC[p.dst_off + i] = round_f16(V[i]);
  } else {
    KC[p.dst_off + i] = K[i];
    VC[p.dst_off + i] = V[i];
  }
}
`;
