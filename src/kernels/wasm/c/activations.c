// Converts f32 activation rows to what ggml dots them in for each weight type (see
// src/kernels/reference/activation-rounding.ts): Q8_0 blocks the x86 way (id = 127/amax, ties to
// even, fp16 scale), Q8_K blocks (scale max/-127 kept in f32), or f32 values rounded to f16/bf16.
#include "rows-k.h" // K_ORDER and the relaxed Q8_K layout

/**
 * n rows of cols values → Q8_0: q as int16, one fp16-rounded scale per 32 values in d (row-major)
 * and again in d4, grouped per tile of 4 rows (see Act in common.h), the last tile padded.
 * The relaxed build writes each block's 64 bytes of q as 32 bytes |x| then 32 bytes of x<0 masks
 * for Q8_0 weights (block-dot.h, layout 0), or (layout 1, for Q4_0/Q5_0 weights) the 32 quants as
 * int8 and Σq per block after d4, in d4's layout (s4 in Act), or (layout 2) int16 as the plain build.
 * Quants are in [-127, 127] either way.
 */
#ifdef RELAXED
/**
 * A block's 32 quants (layout 0) as |x| and sign masks, for Q8_0 weights; (1) as int8, for Q4_0/Q5_0;
 * (2) as int16, for Q8_0 where int8 dots are slow (Q8_0_I16 in matmul.c). Finite activations round to [-127, 127]; the clamp only keeps a magnitude of 128 (from
 * inf, or a scale overflowing for a block of denormals) out of the dot instruction's [0, 127] range.
 */
ALWAYS void store_block(int16_t* q, const v128_t* x16, int layout) {
  if (layout == 2) {
    for (int i = 0; i < 4; i++) wasm_v128_store(q + 8 * i, x16[i]);
    return;
  }
  int8_t* p = (int8_t*)q;
  for (int h = 0; h < 2; h++) {
    v128_t x = wasm_i8x16_max(wasm_i8x16_narrow_i16x8(x16[2 * h], x16[2 * h + 1]), wasm_i8x16_splat(-127));
    if (layout == 1) {
      wasm_v128_store(p + 16 * h, x);
    } else {
      wasm_v128_store(p + 16 * h, wasm_i8x16_abs(x));
      wasm_v128_store(p + 32 + 16 * h, wasm_i8x16_shr(x, 7));
    }
  }
}

/** Σ of the 32 int8 quants at p. */
ALWAYS int32_t sum_block(const int16_t* q) {
  const int8_t* p = (const int8_t*)q;
  v128_t s = wasm_i16x8_add(wasm_i16x8_extadd_pairwise_i8x16(wasm_v128_load(p)), wasm_i16x8_extadd_pairwise_i8x16(wasm_v128_load(p + 16)));
  return hsum_i32x4(wasm_i32x4_extadd_pairwise_i16x8(s));
}
#else
ALWAYS void store_block(int16_t* q, const v128_t* x16, int layout) {
  (void)layout;
  for (int i = 0; i < 4; i++) wasm_v128_store(q + 8 * i, x16[i]);
}
#endif

EXPORT(quantize_q8_0)
void quantize_q8_0(const float* x, int n, int cols, int16_t* q, float* d, float* d4, int layout) {
  int nb = n * cols / 32;
  for (int b = 0; b < nb; b++) {
    const float* xb = x + b * 32;
    v128_t m = wasm_f32x4_splat(0);
    for (int j = 0; j < 32; j += 4) m = wasm_f32x4_max(m, wasm_f32x4_abs(wasm_v128_load(xb + j)));
    m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
    m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
    float amax = wasm_f32x4_extract_lane(m, 0);
    d[b] = round_fp16(amax / 127.0f);
    v128_t id = wasm_f32x4_splat(amax != 0 ? 127.0f / amax : 0.0f);
    v128_t x16[4];
    for (int j = 0; j < 32; j += 8) {
      v128_t lo = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(xb + j), id)));
      v128_t hi = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(xb + j + 4), id)));
      x16[j / 8] = wasm_i16x8_narrow_i32x4(lo, hi);
    }
    store_block(q + b * 32, x16, layout);
  }
  // d4, and a last tile padded to 4 rows with zero rows (scale 0, quants 0), which the matmul's tiles
  // read and never write out; q and d4 have room for them (matmul.ts).
  int rowBlocks = cols / 32, padded = (n + 3) / 4 * 4;
  for (int t = 0; t < padded; t++) {
    for (int b = 0; b < rowBlocks; b++) d4[(t / 4) * rowBlocks * 4 + b * 4 + t % 4] = t < n ? d[t * rowBlocks + b] : 0.0f;
  }
  for (int i = n * cols; i < padded * cols; i++) q[i] = 0;
#ifdef RELAXED
  if (layout == 1) {
    int32_t* s4 = (int32_t*)(d4 + padded * rowBlocks);
    for (int t = 0; t < padded; t++) {
      for (int b = 0; b < rowBlocks; b++) s4[(t / 4) * rowBlocks * 4 + b * 4 + t % 4] = t < n ? sum_block(q + (t * rowBlocks + b) * 32) : 0;
    }
  }
#endif
}

#ifdef RELAXED
/**
 * A block of 256 Q8_K quants in the relaxed build's layout (rows-k.h): 256 bytes of int8 quants, each
 * 16 in K_ORDER, then per 16 the i16x8 -32·(sum of each pair of quants). Same room as 256 int16.
 */
ALWAYS void store_q8_k(int16_t* q, const int16_t* qb) {
  int8_t* p = (int8_t*)q;
  for (int k = 0; k < 16; k++) {
    v128_t v = wasm_i8x16_narrow_i16x8(wasm_v128_load(qb + 16 * k), wasm_v128_load(qb + 16 * k + 8));
    v128_t ordered = wasm_i8x16_swizzle(v, K_ORDER);
    wasm_v128_store(p + 16 * k, ordered);
    wasm_v128_store(p + 256 + 16 * k, wasm_i16x8_mul(wasm_i16x8_extadd_pairwise_i8x16(ordered), wasm_i16x8_splat(-32)));
  }
}
#else
ALWAYS void store_q8_k(int16_t* q, const int16_t* qb) {
  for (int j = 0; j < 256; j += 8) wasm_v128_store(q + j, wasm_v128_load(qb + j));
}
#endif

/** n rows of cols values → Q8_K: q as int16, an f32 scale per 256 values, Σq per 32 values. */
EXPORT(quantize_q8_k)
void quantize_q8_k(const float* x, int n, int cols, int16_t* q, float* d, int32_t* sums) {
  int nb = n * cols / 256;
  int16_t qb[256];
  for (int b = 0; b < nb; b++) {
    const float* xb = x + b * 256;
    float amax = 0, max = 0;
    for (int j = 0; j < 256; j++) {
      float ax = __builtin_fabsf(xb[j]);
      if (ax > amax) { amax = ax; max = xb[j]; }
    }
    if (amax == 0) {
      d[b] = 0;
      for (int j = 0; j < 256; j++) q[b * 256 + j] = 0;
      for (int j = 0; j < 8; j++) sums[b * 8 + j] = 0;
      continue;
    }
    float iscale = -127.0f / max;
    d[b] = 1.0f / iscale;
    v128_t is = wasm_f32x4_splat(iscale);
    v128_t top = wasm_i32x4_splat(127);
    for (int j = 0; j < 256; j += 8) {
      v128_t lo = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(xb + j), is)));
      v128_t hi = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(xb + j + 4), is)));
      wasm_v128_store(qb + j, wasm_i16x8_narrow_i32x4(wasm_i32x4_min(lo, top), wasm_i32x4_min(hi, top)));
    }
    for (int j = 0; j < 8; j++) {
      v128_t s = wasm_i32x4_splat(0);
      for (int k = 0; k < 32; k += 8) s = wasm_i32x4_add(s, wasm_i32x4_extadd_pairwise_i16x8(wasm_v128_load(qb + j * 32 + k)));
      sums[b * 8 + j] = hsum_i32x4(s);
    }
    store_q8_k(q + b * 256, qb);
  }
}

/** out[i] = x[i] rounded to fp16 and back (ggml converts activations to f16 for F16 weights). */
EXPORT(round_f16)
void round_f16(const float* x, float* out, int len) {
  for (int i = 0; i < len; i++) out[i] = round_fp16(x[i]);
}

/** out[i] = x[i] rounded to bf16 (nearest even, NaN quieted) and back. */
EXPORT(round_bf16)
void round_bf16(const float* x, float* out, int len) {
  for (int i = 0; i < len; i++) {
    uint32_t u = as_u32(x[i]);
    uint32_t h = (u & 0x7fffffff) > 0x7f800000 ? (u >> 16) | 64 : (u + (0x7fff + ((u >> 16) & 1))) >> 16;
    out[i] = as_f32(h << 16);
  }
}

/**
 * e^x in double to within a few ulp of double: 2^n · p(r), |r| <= ln2/2, p Taylor's to r^13 (the
 * next term is below 5e-18). x is clamped to ±700: beyond it silu's f32 result no longer changes.
 */
ALWAYS v128_t exp_f64x2(v128_t x) {
  x = wasm_f64x2_min(wasm_f64x2_max(x, wasm_f64x2_splat(-700.0)), wasm_f64x2_splat(700.0));
  v128_t n = wasm_f64x2_nearest(wasm_f64x2_mul(x, wasm_f64x2_splat(1.4426950408889634)));
  // ln2 split as fdlibm's: n · hi is exact for |n| < 2^11.
  v128_t r = wasm_f64x2_sub(x, wasm_f64x2_mul(n, wasm_f64x2_splat(6.93147180369123816490e-01)));
  r = wasm_f64x2_sub(r, wasm_f64x2_mul(n, wasm_f64x2_splat(1.90821492927058770002e-10)));
  // p(r) = sum r^k / k! for k <= 13, in Estrin's scheme (short dependency chains).
  v128_t r2 = wasm_f64x2_mul(r, r);
  v128_t r4 = wasm_f64x2_mul(r2, r2);
  v128_t r8 = wasm_f64x2_mul(r4, r4);
  static const double inv_fact[14] = {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320, 1.0 / 362880,
                                      1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0};
#define PAIR(a, b) wasm_f64x2_add(wasm_f64x2_splat(inv_fact[a]), wasm_f64x2_mul(wasm_f64x2_splat(inv_fact[b]), r))
  v128_t q0 = wasm_f64x2_add(PAIR(0, 1), wasm_f64x2_mul(PAIR(2, 3), r2));
  v128_t q1 = wasm_f64x2_add(PAIR(4, 5), wasm_f64x2_mul(PAIR(6, 7), r2));
  v128_t q2 = wasm_f64x2_add(PAIR(8, 9), wasm_f64x2_mul(PAIR(10, 11), r2));
  v128_t q3 = PAIR(12, 13);
#undef PAIR
  v128_t p = wasm_f64x2_add(wasm_f64x2_add(q0, wasm_f64x2_mul(q1, r4)), wasm_f64x2_mul(wasm_f64x2_add(q2, wasm_f64x2_mul(q3, r4)), r8));
  // 2^n: adding 1.5·2^52 leaves n in the low mantissa bits.
  const double magic = 0x1.8p52;
  v128_t ni = wasm_i64x2_sub(wasm_f64x2_add(n, wasm_f64x2_splat(magic)), wasm_f64x2_splat(magic));
  v128_t pow2n = wasm_i64x2_shl(wasm_i64x2_add(ni, wasm_i64x2_splat(1023)), 52);
  return wasm_f64x2_mul(p, pow2n);
}

/** silu of two f32 values (the low lanes of g, as doubles), rounded once to f32. */
ALWAYS v128_t silu_f64x2(v128_t g) {
  return wasm_f64x2_div(g, wasm_f64x2_add(wasm_f64x2_splat(1.0), exp_f64x2(wasm_f64x2_neg(g))));
}

/**
 * out = silu(gate) · up over len values. silu is computed in double and rounded to f32 once, as the
 * reference does (bit for bit). ggml's own (f32, its ggml_v_expf within about 1.5 ulp) lands near
 * that; the f32 polynomial used before was a few ulp off in 27% of values and flipped activation
 * roundings downstream (qwen2.5-0.5b-shape-q4_k_m: 0.2 in log-prob at the first position, where our
 * reference and wllama agree with native llama.cpp to 1e-4). About 2x the f32 version's time, a few
 * percent of a layer's. out may alias gate or up.
 */
EXPORT(swiglu)
void swiglu(const float* gate, const float* up, float* out, int len) {
  int i = 0;
  for (; i + 4 <= len; i += 4) {
    v128_t g = wasm_v128_load(gate + i);
    v128_t lo = wasm_f32x4_demote_f64x2_zero(silu_f64x2(wasm_f64x2_promote_low_f32x4(g)));
    v128_t hi = wasm_f32x4_demote_f64x2_zero(silu_f64x2(wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(g, g, 2, 3, 2, 3))));
    wasm_v128_store(out + i, wasm_f32x4_mul(wasm_i32x4_shuffle(lo, hi, 0, 1, 4, 5), wasm_v128_load(up + i)));
  }
  for (; i < len; i++) {
    float silu = wasm_f32x4_extract_lane(wasm_f32x4_demote_f64x2_zero(silu_f64x2(wasm_f64x2_splat(gate[i]))), 0);
    out[i] = silu * up[i];
  }
}
