// Dot products of weight rows in a 32-value block format (Q8_0, Q4_0, Q5_0) with activation rows in
// Q8_0 form: integer dots per block, then scaled by d_w*d_x and summed in f32, as ggml does.
// Every path sums an output in one order, whatever the number of rows it runs with: per block the
// exact integer dot, times d_w*d_x, added to that output's running f32 sum, block after block. A
// batch runs in tiles of 4 activation rows (the last tile padded with zero rows), decode in quads of
// 4 weight rows, so the output of a 16-row batch is the one-row run's bit for bit, and speculative
// verification and a pipeline's exact frames can batch as many rows as they like (engine/exact-batch.ts).
#pragma once
#include "block-dot.h"

/** Q8_0: fp16 d, 32 int8 quants (34 bytes). */
#define Q8_0_BYTES 34
ALWAYS Block decode_q8_0(const uint8_t* blk) { return make_block(wasm_v128_load(blk + 2), wasm_v128_load(blk + 18)); }

/**
 * What the dots of Q4_0 and Q5_0 subtract from each decoded value: the plain build subtracts it in
 * decoding; the relaxed one dots the unsigned values (the instruction's second operand must be in
 * [0, 127]) and subtracts OFFSET·Σx per block (Σx from quantize_q8_0: a->s4).
 */
#ifdef RELAXED
#define OFFSET_q4_0 8
#define OFFSET_q5_0 16
#define DECODE_SUB(k) 0
#else
#define OFFSET_q4_0 0
#define OFFSET_q5_0 0
#define DECODE_SUB(k) (k)
#endif
#define OFFSET_q8_0 0
#define OFFSET_q8_0w 0

/** Q4_0: fp16 d, 16 bytes of nibbles (low = values 0..15, high = 16..31), value = nibble - 8. */
#define Q4_0_BYTES 18
ALWAYS Block decode_q4_0(const uint8_t* blk) {
  const v128_t low4 = wasm_i8x16_splat(0x0f), eight = wasm_i8x16_splat(DECODE_SUB(8));
  v128_t x = wasm_v128_load(blk + 2);
  return make_block(wasm_i8x16_sub(wasm_v128_and(x, low4), eight), wasm_i8x16_sub(wasm_u8x16_shr(x, 4), eight));
}

/** 0x10 in each byte whose bit is set: byte i of the result looks at bit i%8 of byte pick[i] of bits. */
ALWAYS v128_t bits_to_0x10(v128_t splatBits, v128_t pick) {
  const v128_t mask = wasm_i8x16_const(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  v128_t bytes = wasm_i8x16_swizzle(splatBits, pick);
  v128_t set = wasm_i8x16_eq(wasm_v128_and(bytes, mask), mask);
  return wasm_v128_and(set, wasm_i8x16_splat(0x10));
}

/** Q5_0: fp16 d, u32 of fifth bits, 16 bytes of nibbles; value = (nibble | bit << 4) - 16. */
#define Q5_0_BYTES 22
ALWAYS Block decode_q5_0(const uint8_t* blk) {
  const v128_t low4 = wasm_i8x16_splat(0x0f), sixteen = wasm_i8x16_splat(DECODE_SUB(16));
  const v128_t pickLo = wasm_i8x16_const(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  const v128_t pickHi = wasm_i8x16_const(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  v128_t qh = wasm_v128_load32_splat(blk + 2);
  v128_t x = wasm_v128_load(blk + 6);
  return make_block(wasm_i8x16_sub(wasm_v128_or(wasm_v128_and(x, low4), bits_to_0x10(qh, pickLo)), sixteen),
                  wasm_i8x16_sub(wasm_v128_or(wasm_u8x16_shr(x, 4), bits_to_0x10(qh, pickHi)), sixteen));
}

/** [Σa, Σb, Σc, Σd] of four i32x4 (exact: the lanes are integers). */
ALWAYS v128_t hsum4_i32x4(v128_t a, v128_t b, v128_t c, v128_t d) {
  v128_t ab = wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
  v128_t cd = wasm_i32x4_add(wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), wasm_i32x4_shuffle(c, d, 2, 6, 3, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5), wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}

/**
 * A full tile of 4 activation rows: the four rows' block sums become one i32x4, converted and scaled
 * once (by the tile's four scales, one load from d4) instead of four times.
 */
#define DEFINE_TILE4(NAME, BYTES)                                                                 \
  ALWAYS void tile4_##NAME(const uint8_t* w, const Act* a, int t0, float* res) {                  \
    v128_t acc = wasm_f32x4_splat(0);                                                             \
    int nb = a->cols / 32;                                                                        \
    const float* d4 = a->d4 + (size_t)(t0 / 4) * nb * 4;                                          \
    const int32_t* sx4 = a->s4 + (size_t)(t0 / 4) * nb * 4;                                       \
    const int16_t* q = a->q + (size_t)t0 * a->cols;                                               \
    for (int b = 0; b < nb; b++) {                                                                \
      const uint8_t* blk = w + b * BYTES;                                                         \
      __auto_type v = decode_##NAME(blk);                                                         \
      const int16_t* qb = q + b * 32;                                                             \
      v128_t s = hsum4_i32x4(DOT_##NAME(v, LOADX_##NAME(qb)), DOT_##NAME(v, LOADX_##NAME(qb + a->cols)),         \
                             DOT_##NAME(v, LOADX_##NAME(qb + 2 * a->cols)), DOT_##NAME(v, LOADX_##NAME(qb + 3 * a->cols))); \
      if (OFFSET_##NAME) s = wasm_i32x4_sub(s, wasm_i32x4_mul(wasm_v128_load(sx4 + b * 4), wasm_i32x4_splat(OFFSET_##NAME))); \
      v128_t scale = wasm_f32x4_mul(wasm_f32x4_splat(load_fp16(blk)), wasm_v128_load(d4 + b * 4)); \
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), scale));              \
    }                                                                                             \
    wasm_v128_store(res, acc);                                                                    \
  }

/**
 * Two weight rows against a full tile of 4 activation rows: each activation vector loaded feeds both
 * rows. The block is walked a step at a time in a loop kept rolled: V8 issues a basic block's loads
 * first, so a block unrolled whole (8 weight and 16 activation vectors) spills; a step loads the two
 * weight vectors and each activation row's vectors into 8 running sums and fits x86's 16 registers.
 * The integer sums and the f32 steps per weight row are tile4's, so the results are identical.
 * (Q8_0 only: for Q4_0 and Q5_0 the nibble unpacking per step cost what the pairing saved.)
 */
/** The int16 step is 8 values, widened to int16 as they load. */
#define STEP_I16 8
#define STEP_WEIGHTS_I16(blk0, blk1, k) v128_t u = wasm_i16x8_load8x8(blk0 + 2 + k), v = wasm_i16x8_load8x8(blk1 + 2 + k);
#define PAIR_DOT_I16(su, sv, xr, k)                                                               \
  {                                                                                               \
    v128_t xv = wasm_v128_load((xr) + (k));                                                       \
    su = wasm_i32x4_add(su, wasm_i32x4_dot_i16x8(u, xv));                                         \
    sv = wasm_i32x4_add(sv, wasm_i32x4_dot_i16x8(v, xv));                                         \
  }
/** The int8 step (relaxed build) is 16 values: both rows' weights against each row's |x| and sign mask. */
#define STEP_I8 16
#define STEP_WEIGHTS_I8(blk0, blk1, k) v128_t u = wasm_v128_load(blk0 + 2 + k), v = wasm_v128_load(blk1 + 2 + k);
#define PAIR_DOT_I8(su, sv, xr, k)                                                                \
  {                                                                                               \
    const int8_t* p = (const int8_t*)(xr) + (k);                                                  \
    v128_t mag = wasm_v128_load(p), m = wasm_v128_load(p + 32);                                   \
    su = dot16_add(u, mag, m, su);                                                                \
    sv = dot16_add(v, mag, m, sv);                                                                \
  }

#define DEFINE_TILE2X4(NAME, BYTES, KIND)                                                         \
  ALWAYS void tile2x4_##NAME(const uint8_t* w0, const uint8_t* w1, const Act* a, int t0, float* res0, float* res1) { \
    v128_t acc0 = wasm_f32x4_splat(0), acc1 = wasm_f32x4_splat(0);                               \
    int cols = a->cols, nb = cols / 32;                                                           \
    const float* d4 = a->d4 + (size_t)(t0 / 4) * nb * 4;                                          \
    const int16_t* q = a->q + (size_t)t0 * cols;                                                  \
    for (int b = 0; b < nb; b++) {                                                                \
      const uint8_t* blk0 = w0 + b * BYTES;                                                       \
      const uint8_t* blk1 = w1 + b * BYTES;                                                       \
      const int16_t* x = q + b * 32;                                                              \
      v128_t z = wasm_i32x4_splat(0);                                                             \
      v128_t s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;              \
      _Pragma("clang loop unroll(disable)")                                                       \
      for (int k = 0; k < 32; k += STEP_##KIND) {                                                 \
        STEP_WEIGHTS_##KIND(blk0, blk1, k)                                                        \
        PAIR_DOT_##KIND(s00, s10, x, k)                                                           \
        PAIR_DOT_##KIND(s01, s11, x + cols, k)                                                    \
        PAIR_DOT_##KIND(s02, s12, x + 2 * cols, k)                                                \
        PAIR_DOT_##KIND(s03, s13, x + 3 * cols, k)                                                \
      }                                                                                           \
      v128_t dx = wasm_v128_load(d4 + b * 4);                                                     \
      v128_t c0 = wasm_f32x4_convert_i32x4(hsum4_i32x4(s00, s01, s02, s03));                      \
      acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(c0, wasm_f32x4_mul(wasm_f32x4_splat(load_fp16(blk0)), dx))); \
      v128_t c1 = wasm_f32x4_convert_i32x4(hsum4_i32x4(s10, s11, s12, s13));                      \
      acc1 = wasm_f32x4_add(acc1, wasm_f32x4_mul(c1, wasm_f32x4_mul(wasm_f32x4_splat(load_fp16(blk1)), dx))); \
    }                                                                                             \
    wasm_v128_store(res0, acc0);                                                                  \
    wasm_v128_store(res1, acc1);                                                                  \
  }

/** How each format dots a decoded block with an activation block (block-dot.h). */
#define DOT_q8_0 block_dot
#ifdef RELAXED
#define DOT_q4_0 block_dot_u
#define DOT_q5_0 block_dot_u
#else
#define DOT_q4_0 block_dot
#define DOT_q5_0 block_dot
#endif
/** A block's dot in decode, where the activation block is loaded once for four weight rows. */
#define QUAD_DOT_q4_0(blk, xb) DOT_q4_0(decode_q4_0(blk), xb)
#define QUAD_DOT_q5_0(blk, xb) DOT_q5_0(decode_q5_0(blk), xb)
/** Q8_0 against int16 activations: values widened 8 at a time as they load. */
#define QUAD_DOT_I16(blk, xb)                                                                                              \
  wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(blk + 2), xb.x0), wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(blk + 10), xb.x1)), \
                 wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(blk + 18), xb.x2), wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(blk + 26), xb.x3)))
#define LOADX_q8_0 load_xblock
#define LOADX_q4_0 load_xblock
#define LOADX_q5_0 load_xblock
#ifdef RELAXED
#define QUAD_DOT_q8_0(blk, xb) block_dot(decode_q8_0(blk), xb)
#define Q8_0_STEP I8
/** Q8_0 weights holding -128 (ResidentWeights checks each tensor): the same blocks, dotted widened. */
#define decode_q8_0w decode_q8_0
#define DOT_q8_0w block_dot_wide
#define LOADX_q8_0w load_xblock
#define QUAD_DOT_q8_0w(blk, xb) block_dot_wide(decode_q8_0(blk), xb)
/** Q8_0 as the plain build runs it, against int16 activations: where int8 dots are slow (see Q8_0_I16). */
#define decode_q8_0i(blk) make_block16(wasm_v128_load(blk + 2), wasm_v128_load(blk + 18))
#define DOT_q8_0i block_dot16
#define LOADX_q8_0i load_xblock16
#define QUAD_DOT_q8_0i QUAD_DOT_I16
#define OFFSET_q8_0i 0
#else
#define QUAD_DOT_q8_0 QUAD_DOT_I16
#define Q8_0_STEP I16
#endif

/** Σx of activation row t's block b (the relaxed build's Q4_0/Q5_0 layout; see OFFSET_q4_0). */
ALWAYS int32_t sum_x(const Act* a, int t, int b) { return a->s4[(size_t)(t / 4) * (a->cols / 32) * 4 + b * 4 + t % 4]; }

/**
 * Four weight rows (rowBytes apart) against one activation row: decode. The lanes are the weight rows,
 * so each output is summed as tile4 sums it; the activation row's 32 values of a block are loaded once
 * for all four weight rows.
 */
#define DEFINE_QUAD(NAME, BYTES)                                                                  \
  ALWAYS void quad_##NAME(const uint8_t* w, int rowBytes, const Act* a, int t0, float* res) {     \
    v128_t acc = wasm_f32x4_splat(0);                                                             \
    int nb = a->cols / 32;                                                                        \
    const int16_t* q = a->q + (size_t)t0 * a->cols;                                               \
    const float* dx = a->d + (size_t)t0 * nb;                                                     \
    for (int b = 0; b < nb; b++) {                                                                \
      __auto_type xb = LOADX_##NAME(q + b * 32);                                                  \
      v128_t s[4];                                                                                \
      float dw[4];                                                                                \
      for (int i = 0; i < 4; i++) {                                                               \
        const uint8_t* blk = w + (size_t)i * rowBytes + b * BYTES;                                \
        s[i] = QUAD_DOT_##NAME(blk, xb);                                                          \
        dw[i] = load_fp16(blk);                                                                   \
      }                                                                                           \
      v128_t scale = wasm_f32x4_mul(wasm_f32x4_make(dw[0], dw[1], dw[2], dw[3]), wasm_f32x4_splat(dx[b])); \
      v128_t si = hsum4_i32x4(s[0], s[1], s[2], s[3]);                                            \
      if (OFFSET_##NAME) si = wasm_i32x4_sub(si, wasm_i32x4_splat(OFFSET_##NAME * sum_x(a, t0, b)));                   \
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(si), scale));            \
    }                                                                                             \
    wasm_v128_store(res, acc);                                                                    \
  }

/** One weight row against one activation row in the same order: the 1-3 rows a quad leaves over. */
#define DEFINE_ROW1(NAME, BYTES)                                                                  \
  ALWAYS float row1_##NAME(const uint8_t* w, const Act* a, int t0) {                              \
    float acc = 0;                                                                                \
    int nb = a->cols / 32;                                                                        \
    const int16_t* q = a->q + (size_t)t0 * a->cols;                                               \
    for (int b = 0; b < nb; b++) {                                                                \
      const uint8_t* blk = w + b * BYTES;                                                         \
      int32_t s = hsum_i32x4(DOT_##NAME(decode_##NAME(blk), LOADX_##NAME(q + b * 32)));           \
      if (OFFSET_##NAME) s -= OFFSET_##NAME * sum_x(a, t0, b);                                   \
      acc += (float)s * (load_fp16(blk) * a->d[(size_t)t0 * nb + b]);                             \
    }                                                                                             \
    return acc;                                                                                   \
  }

#define DEFINE_ROWS(NAME, BYTES) \
  DEFINE_TILE4(NAME, BYTES)      \
  DEFINE_QUAD(NAME, BYTES)       \
  DEFINE_ROW1(NAME, BYTES)

DEFINE_ROWS(q8_0, Q8_0_BYTES)
#define DEFINE_TILE2X4_(NAME, BYTES, KIND) DEFINE_TILE2X4(NAME, BYTES, KIND)
DEFINE_TILE2X4_(q8_0, Q8_0_BYTES, Q8_0_STEP)
DEFINE_ROWS(q4_0, Q4_0_BYTES)
DEFINE_ROWS(q5_0, Q5_0_BYTES)
#ifdef RELAXED
DEFINE_ROWS(q8_0w, Q8_0_BYTES)
DEFINE_ROWS(q8_0i, Q8_0_BYTES)
DEFINE_TILE2X4(q8_0i, Q8_0_BYTES, I16)
#endif
