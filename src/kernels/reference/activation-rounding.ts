// ggml does not multiply a weight by f32 activations: it first converts each activation row to the
// weight type's "vec_dot_type" (F16 → f16, BF16 → bf16, Q4_0/Q5_0/Q8_0 → Q8_0 blocks, K-quants →
// Q8_K blocks) and dots in that form. The reference does the same rounding, so it reproduces
// llama.cpp's numbers (to ~1e-5 in logprob) instead of differing by up to 0.1 on quantized models.
// Where ggml's CPU variants differ, we follow x86 (the reference machines): Q8_0 activations are
// quantized with id = 127/amax and round-half-even, not quantize_row_q8_0_ref's 1/d and roundf;
// on tiny-llama-q5_0 that difference alone moved log-probs by up to 0.06.
import { GgmlType, ggmlTypeName } from '../../gguf/ggml-types.ts';
import { roundFp16 } from '../../gguf/quant/half.ts';
import { dequantizeRow, quantizeRow } from '../../gguf/quant/index.ts';
import { MeshError } from '../../protocol/errors.ts';

/** The type ggml converts activations to before the dot product with a weight of `weightType`. */
export function vecDotType(weightType: number): number {
  switch (weightType) {
    case GgmlType.F32:
      return GgmlType.F32;
    case GgmlType.F16:
      return GgmlType.F16;
    case GgmlType.BF16:
      return GgmlType.BF16;
    case GgmlType.Q4_0:
    case GgmlType.Q5_0:
    case GgmlType.Q8_0:
      return GgmlType.Q8_0;
    case GgmlType.Q4_K:
    case GgmlType.Q5_K:
    case GgmlType.Q6_K:
      return GgmlType.Q8_K;
    default:
      throw new MeshError(
        'kernel_unsupported_type',
        `no matmul for ${ggmlTypeName(weightType)} weights; supported: F32, F16, BF16, Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K`,
      );
  }
}

/** ggml's nearest_int: round half to even, as the float magic-number trick does. */
function nearestInt(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** quantize_row_q8_K_ref then dequantize: 256-value blocks, scale max/-127, no fp16 rounding of d. */
function roundQ8K(x: Float32Array, out: Float32Array): void {
  for (let b = 0; b < x.length; b += 256) {
    let amax = 0,
      max = 0;
    for (let j = b; j < b + 256; j++) {
      const ax = Math.abs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax === 0) {
      out.fill(0, b, b + 256);
      continue;
    }
    const iscale = Math.fround(-127 / max);
    const d = Math.fround(1 / iscale);
    for (let j = b; j < b + 256; j++) out[j] = d * Math.min(127, nearestInt(Math.fround(iscale * x[j])));
  }
}

/**
 * Q8_0 as ggml's x86 quantize_row_q8_0 (and the repacked variants) does it for activations:
 * id = 127/amax rather than the reference 1/d, and rounding half to even; d is stored as fp16.
 */
function roundQ8_0(x: Float32Array, out: Float32Array): void {
  for (let b = 0; b < x.length; b += 32) {
    let amax = 0;
    for (let j = b; j < b + 32; j++) amax = Math.max(amax, Math.abs(x[j]));
    const d = roundFp16(Math.fround(amax / 127));
    const id = amax !== 0 ? Math.fround(127 / amax) : 0;
    for (let j = b; j < b + 32; j++) out[j] = d * nearestInt(Math.fround(x[j] * id));
  }
}

/** The values of an activation row (whole blocks) after ggml's conversion for `weightType`. */
export function roundActivations(weightType: number, x: Float32Array): Float32Array {
  const type = vecDotType(weightType);
  if (type === GgmlType.F32) return x;
  if (type === GgmlType.Q8_0) {
    const out = new Float32Array(x.length);
    roundQ8_0(x, out);
    return out;
  }
  if (type === GgmlType.Q8_K) {
    const out = new Float32Array(x.length);
    roundQ8K(x, out);
    return out;
  }
  return dequantizeRow(type, quantizeRow(type, x), x.length);
}
