// Shared helpers for the WASM SIMD kernels: fp16 conversion (exact, as ggml does it), horizontal
// sums, and the activation layouts the matmul kernels read.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))
#define ALWAYS static inline __attribute__((always_inline))

ALWAYS float as_f32(uint32_t u) { return __builtin_bit_cast(float, u); }
ALWAYS uint32_t as_u32(float f) { return __builtin_bit_cast(uint32_t, f); }

/** fp16 bits to f32, exact for every value (denormals are scaled up, inf/NaN keep their payload). */
ALWAYS float fp16_to_f32(uint32_t h) {
  uint32_t em = h & 0x7fff;
  uint32_t bits = as_u32(as_f32(em << 13) * 0x1p112f);
  if (em >= 0x7c00) bits = (em << 13) | 0x7f800000;
  return as_f32(bits | ((h & 0x8000) << 16));
}

/**
 * A block scale: the fp16 at p, assumed finite (ResidentWeights refuses weights with inf/NaN scales),
 * in 3 ops: shifting the sign-extended bits left by 13 aligns exponent and mantissa with f32's, the
 * mask keeps one sign bit, and × 2^112 rebiases the exponent (exact, denormals included).
 */
ALWAYS float load_fp16(const uint8_t* p) {
  int32_t v = (int16_t)(p[0] | (p[1] << 8));
  return as_f32((uint32_t)(v << 13) & 0x8fffffffu) * 0x1p112f;
}

/** Four fp16 values (in the low 16 bits of each i32 lane) to f32x4, exactly as fp16_to_f32. */
ALWAYS v128_t fp16x4_to_f32x4(v128_t h) {
  v128_t em = wasm_v128_and(h, wasm_i32x4_splat(0x7fff));
  v128_t shifted = wasm_i32x4_shl(em, 13);
  v128_t scaled = wasm_f32x4_mul(shifted, wasm_f32x4_splat(0x1p112f));
  v128_t special = wasm_v128_or(shifted, wasm_i32x4_splat(0x7f800000));
  v128_t isSpecial = wasm_i32x4_ge(em, wasm_i32x4_splat(0x7c00));
  v128_t mag = wasm_v128_bitselect(special, scaled, isSpecial);
  return wasm_v128_or(mag, wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16));
}

/** ggml_compute_fp32_to_fp16: round to nearest even, overflow to inf, NaN kept quiet. */
ALWAYS uint32_t f32_to_fp16(float f) {
  float base = (__builtin_fabsf(f) * 0x1.0p+112f) * 0x1.0p-110f;
  uint32_t w = as_u32(f);
  uint32_t shl1_w = w + w;
  uint32_t sign = w & 0x80000000u;
  uint32_t bias = shl1_w & 0xff000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = as_f32((bias >> 1) + 0x07800000u) + base;
  uint32_t bits = as_u32(base);
  uint32_t exp_bits = (bits >> 13) & 0x00007c00u;
  uint32_t mantissa_bits = bits & 0x00000fffu;
  uint32_t nonsign = exp_bits + mantissa_bits;
  return ((sign >> 16) | (shl1_w > 0xff000000u ? 0x7e00u : nonsign)) & 0xffff;
}

ALWAYS float round_fp16(float f) { return fp16_to_f32(f32_to_fp16(f)); }

ALWAYS float hsum_f32x4(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

ALWAYS int32_t hsum_i32x4(v128_t v) {
  return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) +
         wasm_i32x4_extract_lane(v, 2) + wasm_i32x4_extract_lane(v, 3);
}

/** Σ a[i]*b[i] over 16 int16 lanes, as i32x4 partial sums. */
ALWAYS v128_t dot16(v128_t w0, v128_t w1, const int16_t* a) {
  return wasm_i32x4_add(wasm_i32x4_dot_i16x8(w0, wasm_v128_load(a)), wasm_i32x4_dot_i16x8(w1, wasm_v128_load(a + 8)));
}

/** Σ over 32 int16 lanes. */
ALWAYS v128_t dot32(v128_t w0, v128_t w1, v128_t w2, v128_t w3, const int16_t* a) {
  return wasm_i32x4_add(dot16(w0, w1, a), dot16(w2, w3, a + 16));
}

/*
 * Activation rows after ggml's conversion for a quantized weight, n rows of `cols` values:
 *  - q: int16 quants (int8 range), row t at q + t*cols, pre-widened so every dot is i32x4.dot_i16x8;
 *  - d: f32 scale per block (32 for Q8_0, 256 for Q8_K), row t at d + t*(cols/block);
 *  - sums (Q8_K): int32 Σq per 32 values (the K-quant mins need them), row t at sums + t*(cols/32);
 *  - d4 (Q8_0): the scales regrouped per tile of 4 rows, [tile][block][4], so a tile's four scales
 *    for one block are one f32x4 load; s4 (relaxed build) follows it with Σq per block in that layout.
 * Float weights read f32 activations (already rounded to f16/bf16 where ggml does that).
 */
typedef struct {
  const int16_t* q;
  const float* d;
  const int32_t* sums;
  const float* d4;
  const int32_t* s4; // relaxed build, Q4_0/Q5_0: Σq per block, laid out as d4
  int cols;
} Act;

/** Activation tile size: each decoded weight block is dotted with up to this many activation rows. */
#define TILE 4

/**
 * e^x within about 2 ulp: 2^n · p(r) with |r| <= ln2/2. Arguments below -87 give 0 (softmax
 * arguments), above 88 they are taken as 88 (about 1.7e38; SiLU only needs 1 + e^x to dwarf x).
 */
ALWAYS v128_t exp_f32x4(v128_t x) {
  v128_t tiny = wasm_f32x4_lt(x, wasm_f32x4_splat(-87.0f)); // e^-87 is near FLT_MIN: flush to 0
  x = wasm_f32x4_min(wasm_f32x4_max(x, wasm_f32x4_splat(-87.0f)), wasm_f32x4_splat(88.0f));
  v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)));
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));
  // Taylor coefficients to r^7: the truncation error (r^8/8! < 1e-8 for |r| < 0.35) is below f32's ulp.
  v128_t p = wasm_f32x4_splat(1.0f / 5040);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 720));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 120));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 24));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 6));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(0.5f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  v128_t pow2n = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
  return wasm_v128_andnot(wasm_f32x4_mul(p, pow2n), tiny);
}
