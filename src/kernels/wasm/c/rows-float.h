// Dot products of one weight row stored as F32, F16 or BF16 with T f32 activation rows (already
// rounded to f16/bf16 where ggml converts them). Weights are widened to f32x4, products summed in f32.
#pragma once
#include "common.h"

ALWAYS void widen_f32(const uint8_t* p, v128_t* lo, v128_t* hi) {
  *lo = wasm_v128_load(p);
  *hi = wasm_v128_load(p + 16);
}

/**
 * Four finite fp16 values, sign-extended to i32, to f32 in 4 ops: shifting left by 13 puts exponent
 * and mantissa where f32 has them (the sign lands in bits 31..28), the mask keeps bit 31 alone, and
 * the multiply by 2^112 rebiases the exponent (exact, denormals included).
 */
ALWAYS v128_t fp16_sext_to_f32x4(v128_t v) {
  v128_t bits = wasm_v128_and(wasm_i32x4_shl(v, 13), wasm_i32x4_splat((int32_t)0x8fffffff));
  return wasm_f32x4_mul(bits, wasm_f32x4_splat(0x1p112f));
}

/** F16 weights known (checked once when made resident) to hold no inf or NaN. */
ALWAYS void widen_f16_finite(const uint8_t* p, v128_t* lo, v128_t* hi) {
  v128_t h = wasm_v128_load(p);
  *lo = fp16_sext_to_f32x4(wasm_i32x4_extend_low_i16x8(h));
  *hi = fp16_sext_to_f32x4(wasm_i32x4_extend_high_i16x8(h));
}

/** F16 weights with inf or NaN somewhere: the exact conversion. */
ALWAYS void widen_f16_exact(const uint8_t* p, v128_t* lo, v128_t* hi) {
  v128_t h = wasm_v128_load(p);
  *lo = fp16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(h));
  *hi = fp16x4_to_f32x4(wasm_u32x4_extend_high_u16x8(h));
}

ALWAYS void widen_bf16(const uint8_t* p, v128_t* lo, v128_t* hi) {
  v128_t h = wasm_v128_load(p);
  *lo = wasm_i32x4_shl(wasm_u32x4_extend_low_u16x8(h), 16);
  *hi = wasm_i32x4_shl(wasm_u32x4_extend_high_u16x8(h), 16);
}

/** How a float weight row is stored. */
enum { AS_F32, AS_F16_FINITE, AS_F16, AS_BF16 };

ALWAYS float scalar_weight(const uint8_t* w, int i, const int kind) {
  if (kind == AS_F32) return ((const float*)w)[i];
  uint32_t h = w[2 * i] | (w[2 * i + 1] << 8);
  return kind == AS_BF16 ? as_f32(h << 16) : fp16_to_f32(h);
}

ALWAYS void rows_float(const uint8_t* w, const float* x, int cols, int t0, const int T, const int kind, float* res) {
  v128_t acc0[TILE], acc1[TILE];
  for (int t = 0; t < T; t++) { acc0[t] = wasm_f32x4_splat(0); acc1[t] = wasm_f32x4_splat(0); }
  int size = kind == AS_F32 ? 4 : 2;
  int c = 0;
  for (; c + 8 <= cols; c += 8) {
    v128_t lo, hi;
    if (kind == AS_F32) widen_f32(w + c * size, &lo, &hi);
    else if (kind == AS_F16_FINITE) widen_f16_finite(w + c * size, &lo, &hi);
    else if (kind == AS_F16) widen_f16_exact(w + c * size, &lo, &hi);
    else widen_bf16(w + c * size, &lo, &hi);
    for (int t = 0; t < T; t++) {
      const float* xt = x + (size_t)(t0 + t) * cols + c;
      acc0[t] = wasm_f32x4_add(acc0[t], wasm_f32x4_mul(lo, wasm_v128_load(xt)));
      acc1[t] = wasm_f32x4_add(acc1[t], wasm_f32x4_mul(hi, wasm_v128_load(xt + 4)));
    }
  }
  for (int t = 0; t < T; t++) {
    float s = hsum_f32x4(wasm_f32x4_add(acc0[t], acc1[t]));
    const float* xt = x + (size_t)(t0 + t) * cols;
    for (int k = c; k < cols; k++) s += scalar_weight(w, k, kind) * xt[k];
    res[t] = s;
  }
}
