// Dot products of one weight row in a K-quant format (Q4_K, Q5_K, Q6_K: super-blocks of 256) with T
// activation rows in Q8_K form. Sub-block scales are folded into the int16 weights (|q*scale| stays
// within int16), so each super-block is one i32 dot per activation row, then scaled in f32. The
// relaxed build dots the unsigned quants with int8 activations and scales the i32 lanes instead.
#pragma once
#include "block-dot.h"

/** get_scale_min_k4 for all 8 sub-blocks: 6-bit scales and mins packed in 12 bytes. */
ALWAYS void scale_min_k4(const uint8_t* s, int16_t* sc, int32_t* m) {
  for (int j = 0; j < 4; j++) {
    sc[j] = s[j] & 63;
    m[j] = s[j + 4] & 63;
  }
  for (int j = 4; j < 8; j++) {
    sc[j] = (s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4);
    m[j] = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

#ifdef RELAXED
/**
 * The relaxed build's Q8_K activations (quantize_q8_k): per 256 values, 256 int8 quants, each 16 in
 * K_ORDER, then per 16 an i16x8 of -32·(sum of each pair of quants) (Q6_K's offset). Weights are put
 * in K_ORDER too, so lane l of the i32 sums (pairs 2l and 2l+1) holds values 2l, 2l+1, 8+2l and 9+2l,
 * the values lane l of the plain build's int16 dots sums: every lane's integer is the plain build's,
 * and so is each f32 step that follows (the lanes are converted and summed in f32 separately).
 */
#define K_ORDER wasm_i8x16_const(0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15)

/** Activation row t's quants from value `offset` on (a multiple of 16). */
ALWAYS const int8_t* k_quants(const Act* a, int t, int offset) {
  return (const int8_t*)(a->q + (size_t)t * a->cols) + (offset >> 8) * 512 + (offset & 255);
}

/**
 * isum[t] += Σ (w times sc) · activation over 32 values whose unsigned bytes (at most 31) are v0, v1:
 * pair sums in int16 (two of them at most 2·2·31·127), then one multiply-add by sc into the i32 lanes.
 */
ALWAYS void dot_sub32_u8(v128_t* isum, const Act* a, int t0, const int T, int offset, v128_t v0, v128_t v1, int16_t sc) {
  v128_t s = wasm_i16x8_splat(sc);
  v128_t w0 = wasm_i8x16_swizzle(v0, K_ORDER), w1 = wasm_i8x16_swizzle(v1, K_ORDER);
  for (int t = 0; t < T; t++) {
    const int8_t* x = k_quants(a, t0 + t, offset);
    v128_t pairs = wasm_i16x8_add(dot_i8_pairs(wasm_v128_load(x), w0), dot_i8_pairs(wasm_v128_load(x + 16), w1));
    isum[t] = wasm_i32x4_add(isum[t], wasm_i32x4_dot_i16x8(pairs, s));
  }
}
#else
/** isum[t] += Σ (w scaled by sc) · activation over 32 values whose unsigned bytes are v0, v1. */
ALWAYS void dot_sub32_u8(v128_t* isum, const Act* a, int t0, const int T, int offset, v128_t v0, v128_t v1, int16_t sc) {
  v128_t s = wasm_i16x8_splat(sc);
  v128_t w0 = wasm_i16x8_mul(wasm_u16x8_extend_low_u8x16(v0), s), w1 = wasm_i16x8_mul(wasm_u16x8_extend_high_u8x16(v0), s);
  v128_t w2 = wasm_i16x8_mul(wasm_u16x8_extend_low_u8x16(v1), s), w3 = wasm_i16x8_mul(wasm_u16x8_extend_high_u8x16(v1), s);
  for (int t = 0; t < T; t++) {
    const int16_t* q = a->q + (size_t)(t0 + t) * a->cols + offset;
    isum[t] = wasm_i32x4_add(isum[t], dot32(w0, w1, w2, w3, q));
  }
}
#endif

/** Shared tail of Q4_K/Q5_K: scale the super-block's integer dot and subtract the mins term. */
ALWAYS void finish_k_block(v128_t* facc, float* fmin, const v128_t* isum, const Act* a, int t0, const int T, int b,
                           float d, float dmin, const int32_t* m) {
  int nb = a->cols / 256;
  for (int t = 0; t < T; t++) {
    float dy = a->d[(t0 + t) * nb + b];
    const int32_t* sums = a->sums + (size_t)(t0 + t) * (a->cols / 32) + b * 8;
    int32_t summ = 0;
    for (int j = 0; j < 8; j++) summ += m[j] * sums[j];
    facc[t] = wasm_f32x4_add(facc[t], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum[t]), wasm_f32x4_splat(d * dy)));
    fmin[t] += dmin * dy * (float)summ;
  }
}

/** Q4_K (144 bytes): fp16 d, dmin; 12 bytes of scales/mins; 128 bytes of nibbles. */
ALWAYS void rows_q4_k(const uint8_t* w, const Act* a, int t0, const int T, float* res) {
  v128_t facc[TILE];
  float fmin[TILE];
  for (int t = 0; t < T; t++) { facc[t] = wasm_f32x4_splat(0); fmin[t] = 0; }
  int nb = a->cols / 256;
  const v128_t low4 = wasm_i8x16_splat(0x0f);
  for (int b = 0; b < nb; b++) {
    const uint8_t* blk = w + b * 144;
    int16_t sc[8];
    int32_t m[8];
    scale_min_k4(blk + 4, sc, m);
    v128_t isum[TILE];
    for (int t = 0; t < T; t++) isum[t] = wasm_i32x4_splat(0);
    for (int j = 0; j < 4; j++) {
      const uint8_t* qs = blk + 16 + 32 * j;
      v128_t x0 = wasm_v128_load(qs), x1 = wasm_v128_load(qs + 16);
      int base = b * 256 + 64 * j;
      dot_sub32_u8(isum, a, t0, T, base, wasm_v128_and(x0, low4), wasm_v128_and(x1, low4), sc[2 * j]);
      dot_sub32_u8(isum, a, t0, T, base + 32, wasm_u8x16_shr(x0, 4), wasm_u8x16_shr(x1, 4), sc[2 * j + 1]);
    }
    finish_k_block(facc, fmin, isum, a, t0, T, b, load_fp16(blk), load_fp16(blk + 2), m);
  }
  for (int t = 0; t < T; t++) res[t] = hsum_f32x4(facc[t]) - fmin[t];
}

/** Q5_K (176 bytes): as Q4_K plus 32 bytes of fifth bits (bit 2j / 2j+1 for sub-blocks 2j / 2j+1). */
ALWAYS void rows_q5_k(const uint8_t* w, const Act* a, int t0, const int T, float* res) {
  v128_t facc[TILE];
  float fmin[TILE];
  for (int t = 0; t < T; t++) { facc[t] = wasm_f32x4_splat(0); fmin[t] = 0; }
  int nb = a->cols / 256;
  const v128_t low4 = wasm_i8x16_splat(0x0f), one = wasm_i8x16_splat(1);
  for (int b = 0; b < nb; b++) {
    const uint8_t* blk = w + b * 176;
    int16_t sc[8];
    int32_t m[8];
    scale_min_k4(blk + 4, sc, m);
    v128_t h0 = wasm_v128_load(blk + 16), h1 = wasm_v128_load(blk + 32);
    v128_t isum[TILE];
    for (int t = 0; t < T; t++) isum[t] = wasm_i32x4_splat(0);
    for (int j = 0; j < 4; j++) {
      const uint8_t* qs = blk + 48 + 32 * j;
      v128_t x0 = wasm_v128_load(qs), x1 = wasm_v128_load(qs + 16);
      v128_t b0 = wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(h0, 2 * j), one), 4);
      v128_t b1 = wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(h1, 2 * j), one), 4);
      v128_t c0 = wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(h0, 2 * j + 1), one), 4);
      v128_t c1 = wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(h1, 2 * j + 1), one), 4);
      int base = b * 256 + 64 * j;
      dot_sub32_u8(isum, a, t0, T, base, wasm_v128_or(wasm_v128_and(x0, low4), b0), wasm_v128_or(wasm_v128_and(x1, low4), b1), sc[2 * j]);
      dot_sub32_u8(isum, a, t0, T, base + 32, wasm_v128_or(wasm_u8x16_shr(x0, 4), c0), wasm_v128_or(wasm_u8x16_shr(x1, 4), c1), sc[2 * j + 1]);
    }
    finish_k_block(facc, fmin, isum, a, t0, T, b, load_fp16(blk), load_fp16(blk + 2), m);
  }
  for (int t = 0; t < T; t++) res[t] = hsum_f32x4(facc[t]) - fmin[t];
}

#ifdef RELAXED
/** isum[t] += Σ ((q - 32) times sc) · activation over the 16 values at `offset`: q·x plus the stored -32·x, per pair. */
ALWAYS void dot_sub16_q6(v128_t* isum, const Act* a, int t0, const int T, int offset, v128_t q, int8_t sc) {
  v128_t s = wasm_i16x8_splat(sc);
  v128_t w = wasm_i8x16_swizzle(q, K_ORDER);
  for (int t = 0; t < T; t++) {
    const int8_t* x = k_quants(a, t0 + t, offset);
    v128_t pairs = wasm_i16x8_add(dot_i8_pairs(wasm_v128_load(x), w), wasm_v128_load(x + 256)); // |Σ x·(q-32)| ≤ 2·32·127
    isum[t] = wasm_i32x4_add(isum[t], wasm_i32x4_dot_i16x8(pairs, s));
  }
}
#else
/** isum[t] += Σ (signed 6-bit q times sc) · activation over the 16 values at `offset`. */
ALWAYS void dot_sub16_q6(v128_t* isum, const Act* a, int t0, const int T, int offset, v128_t q, int8_t sc) {
  v128_t s = wasm_i16x8_splat(sc);
  v128_t v = wasm_i8x16_sub(q, wasm_i8x16_splat(32));
  v128_t w0 = wasm_i16x8_mul(wasm_i16x8_extend_low_i8x16(v), s), w1 = wasm_i16x8_mul(wasm_i16x8_extend_high_i8x16(v), s);
  for (int t = 0; t < T; t++) {
    const int16_t* x = a->q + (size_t)(t0 + t) * a->cols + offset;
    isum[t] = wasm_i32x4_add(isum[t], dot16(w0, w1, x));
  }
}
#endif

/** Q6_K (210 bytes): 128 bytes low nibbles, 64 bytes high 2-bit pairs, 16 int8 scales, fp16 d. */
ALWAYS void rows_q6_k(const uint8_t* w, const Act* a, int t0, const int T, float* res) {
  v128_t facc[TILE];
  for (int t = 0; t < T; t++) facc[t] = wasm_f32x4_splat(0);
  int nb = a->cols / 256;
  const v128_t low4 = wasm_i8x16_splat(0x0f), three = wasm_i8x16_splat(3);
  for (int b = 0; b < nb; b++) {
    const uint8_t* blk = w + b * 210;
    const int8_t* scales = (const int8_t*)(blk + 192);
    v128_t isum[TILE];
    for (int t = 0; t < T; t++) isum[t] = wasm_i32x4_splat(0);
    for (int half = 0; half < 2; half++) {
      const uint8_t* ql = blk + 64 * half;
      const uint8_t* qh = blk + 128 + 32 * half;
      const int8_t* sc = scales + 8 * half;
      int base = b * 256 + 128 * half;
      for (int c = 0; c < 2; c++) {
        v128_t lo = wasm_v128_load(ql + 16 * c), hi = wasm_v128_load(ql + 32 + 16 * c), h = wasm_v128_load(qh + 16 * c);
        v128_t q1 = wasm_v128_or(wasm_v128_and(lo, low4), wasm_i8x16_shl(wasm_v128_and(h, three), 4));
        v128_t q2 = wasm_v128_or(wasm_v128_and(hi, low4), wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(h, 2), three), 4));
        v128_t q3 = wasm_v128_or(wasm_u8x16_shr(lo, 4), wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(h, 4), three), 4));
        v128_t q4 = wasm_v128_or(wasm_u8x16_shr(hi, 4), wasm_i8x16_shl(wasm_u8x16_shr(h, 6), 4));
        dot_sub16_q6(isum, a, t0, T, base + 16 * c, q1, sc[c]);
        dot_sub16_q6(isum, a, t0, T, base + 32 + 16 * c, q2, sc[c + 2]);
        dot_sub16_q6(isum, a, t0, T, base + 64 + 16 * c, q3, sc[c + 4]);
        dot_sub16_q6(isum, a, t0, T, base + 96 + 16 * c, q4, sc[c + 6]);
      }
    }
    float d = load_fp16(blk + 208);
    for (int t = 0; t < T; t++) {
      float dy = a->d[(t0 + t) * nb + b];
      facc[t] = wasm_f32x4_add(facc[t], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum[t]), wasm_f32x4_splat(d * dy)));
    }
  }
  for (int t = 0; t < T; t++) res[t] = hsum_f32x4(facc[t]);
}
