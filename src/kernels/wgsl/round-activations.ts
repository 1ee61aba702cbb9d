// WGSL for ggml's conversion of activations before a dot product with a weight (see
// kernels/reference/activation-rounding.ts): Q8_0 blocks of 32 (x86 rounding: id = 127/amax, half
// to even), Q8_K blocks of 256, or fp16/bf16 per value. The output holds the rounded values as f32,
// so the matmul stays one kernel per weight type. One thread per block: no barriers.
import { GgmlType } from '../../gguf/ggml-types.ts';
import { vecDotType } from '../reference/activation-rounding.ts';

/** The rounding mode ids the shader switches on; 0 means the activations are used as they are. */
export const ROUND_NONE = 0,
  ROUND_F16 = 1,
  ROUND_BF16 = 2,
  ROUND_Q8_0 = 3,
  ROUND_Q8_K = 4;

export function roundingMode(weightType: number): number {
  switch (vecDotType(weightType)) {
    case GgmlType.F16:
      return ROUND_F16;
    case GgmlType.BF16:
      return ROUND_BF16;
    case GgmlType.Q8_0:
      return ROUND_Q8_0;
    case GgmlType.Q8_K:
      return ROUND_Q8_K;
    default:
      return ROUND_NONE;
  }
}

/** Values per thread for a mode (the block the scale is shared over). */
export function roundingBlock(mode: number): number {
  return mode === ROUND_Q8_K ? 256 : 32;
}

/** f32 → nearest fp16 (ties to even, as ggml's fp32_to_fp16) → f32, by bit manipulation. */
export const ROUND_F16_WGSL = /* wgsl */ `
fn round_f16(x: f32) -> f32 {
  let u = bitcast<u32>(x);
  let sign = u & 0x80000000u;
  let a = u & 0x7fffffffu;
  if (a >= 0x7f800000u) { return x; }
  if (a >= 0x477ff000u) { return bitcast<f32>(sign | 0x7f800000u); }
  if (a >= 0x38800000u) {
    let r = a + 0xfffu + ((a >> 13u) & 1u);
    return bitcast<f32>(sign | (r & 0xffffe000u));
  }
  let q = round(bitcast<f32>(a) * 16777216.0);
  return bitcast<f32>(sign | bitcast<u32>(q * 5.9604644775390625e-8));
}
`;

/** Uniform P: mode, count (values, a multiple of the block), groups_x (folded dispatch). */
export const ROUND_ACTIVATIONS_WGSL = /* wgsl */ `
struct P { mode: u32, count: u32, groups_x: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
${ROUND_F16_WGSL}
fn round_bf16(x: f32) -> f32 {
  let u = bitcast<u32>(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) { return bitcast<f32>(((u >> 16u) | 64u) << 16u); }
  return bitcast<f32>(((u + 0x7fffu + ((u >> 16u) & 1u)) >> 16u) << 16u);
}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let block = select(32u, 256u, p.mode == ${ROUND_Q8_K}u);
  let b0 = (gid.x + gid.y * p.groups_x * 64u) * block;
  if (b0 >= p.count) { return; }
  if (p.mode == ${ROUND_F16}u) {
    for (var i = b0; i < b0 + 32u; i++) { Y[i] = round_f16(X[i]); }
  } else if (p.mode == ${ROUND_BF16}u) {
    for (var i = b0; i < b0 + 32u; i++) { Y[i] = round_bf16(X[i]); }
  } else if (p.mode == ${ROUND_Q8_0}u) {
    var amax = 0.0;
    for (var i = b0; i < b0 + 32u; i++) { amax = max(amax, abs(X[i])); }
    let d = round_f16(amax / 127.0);
    let id = select(0.0, 127.0 / amax, amax != 0.0);
    for (var i = b0; i < b0 + 32u; i++) { Y[i] = d * round(X[i] * id); }
  } else if (p.mode == ${ROUND_Q8_K}u) {
    var amax = 0.0;
    var mx = 0.0;
    for (var i = b0; i < b0 + 256u; i++) {
      let ax = abs(X[i]);
      if (ax > amax) { amax = ax; mx = X[i]; }
    }
    if (amax == 0.0) {
      for (var i = b0; i < b0 + 256u; i++) { Y[i] = 0.0; }
      return;
    }
    let iscale = -127.0 / mx;
    let d = 1.0 / iscale;
    for (var i = b0; i < b0 + 256u; i++) { Y[i] = d * min(127.0, round(iscale * X[i])); }
  } else {
    for (var i = b0; i < b0 + 32u; i++) { Y[i] = X[i]; }
  }
}
`;
