// Scalar fp16 and bf16 conversions exactly as ggml does them (ggml-impl.h): the fp32→fp16 bit trick
// rounds to nearest even and every quant format stores its block scales with it, so byte-identical
// quantizers start here.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0];
}

export function f32FromBits(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}

const SCALE_TO_INF = f32FromBits(0x77800000); // 0x1.0p+112f
const SCALE_TO_ZERO = f32FromBits(0x08800000); // 0x1.0p-110f
const EXP_SCALE = f32FromBits(0x07800000); // 0x1.0p-112f

/** ggml_compute_fp32_to_fp16. */
export function fp32ToFp16(x: number): number {
  let base = Math.fround(Math.fround(Math.abs(Math.fround(x)) * SCALE_TO_INF) * SCALE_TO_ZERO);
  const w = f32Bits(x);
  const shl1W = (w + w) >>> 0;
  const sign = (w & 0x80000000) >>> 0;
  let bias = (shl1W & 0xff000000) >>> 0;
  if (bias < 0x71000000) bias = 0x71000000;
  base = Math.fround(f32FromBits(((bias >>> 1) + 0x07800000) >>> 0) + base);
  const bits = f32Bits(base);
  const expBits = (bits >>> 13) & 0x00007c00;
  const mantissaBits = bits & 0x00000fff;
  const nonsign = expBits + mantissaBits;
  return ((sign >>> 16) | (shl1W > 0xff000000 ? 0x7e00 : nonsign)) & 0xffff;
}

/** ggml_compute_fp16_to_fp32 (exact: every fp16 is a float32). */
export function fp16ToFp32(h: number): number {
  const w = (h << 16) >>> 0;
  const sign = (w & 0x80000000) >>> 0;
  const twoW = (w + w) >>> 0;
  const expOffset = 0xe0 << 23;
  const normalized = Math.fround(f32FromBits(((twoW >>> 4) + expOffset) >>> 0) * EXP_SCALE);
  const denormalized = Math.fround(f32FromBits(((twoW >>> 17) | (126 << 23)) >>> 0) - 0.5);
  const result = (sign | (twoW < 1 << 27 ? f32Bits(denormalized) : f32Bits(normalized))) >>> 0;
  return f32FromBits(result);
}

/** ggml_compute_fp32_to_bf16: round to nearest even, NaN forced quiet. */
export function fp32ToBf16(x: number): number {
  const i = f32Bits(x);
  if ((i & 0x7fffffff) >>> 0 > 0x7f800000) return ((i >>> 16) | 64) & 0xffff;
  return (((i + (0x7fff + ((i >>> 16) & 1))) >>> 0) >>> 16) & 0xffff;
}

export function bf16ToFp32(h: number): number {
  return f32FromBits((h << 16) >>> 0);
}

/** fp16 round trip: the value a scale has once stored in a block. */
export function roundFp16(x: number): number {
  return fp16ToFp32(fp32ToFp16(x));
}
