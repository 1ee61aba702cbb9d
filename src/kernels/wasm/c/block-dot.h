// The integer dot of one 32-value weight block with one activation block, in the two builds:
//  - plain: weights widened to int16, activations stored as int16, i32x4.dot_i16x8_s;
//  - RELAXED: int8 weights and activations, i32x4.relaxed_dot_i8x16_i7x16_add_s (x86 pmaddubsw or
//    vpdpbusd, ARM sdot: about twice the multiply-adds per instruction). That instruction is exact and
//    the same on every CPU only while every byte of its second operand is in [0, 127], so the
//    activations are stored as |x| with a sign mask beside them, and each weight byte takes x's sign
//    (w·x = (±w)·|x|, llama.cpp's trick): the mask is computed once per activation block and the
//    magnitude is what the instruction reads. A weight of -128 cannot be negated in int8, so Q8_0
//    weights holding one take the exact widening path (dot_wide; ResidentWeights flags them). Where
//    V8 lowers the int8 dot-add to three instructions (no AVX-VNNI), Q8_0 keeps the int16 path
//    (index.ts times dot_probe once).
// Either way the block's integer dot is exact, so both builds give every output bit for bit.
#pragma once
#include "common.h"

/** A block's 32 weights widened to int16 (w0: values 0..7, ... w3: 24..31). */
typedef struct { v128_t w0, w1, w2, w3; } Block16;
ALWAYS Block16 make_block16(v128_t lo, v128_t hi) {
  return (Block16){wasm_i16x8_extend_low_i8x16(lo), wasm_i16x8_extend_high_i8x16(lo), wasm_i16x8_extend_low_i8x16(hi),
                   wasm_i16x8_extend_high_i8x16(hi)};
}

/** An activation block of 32 int16 quants (the plain build's layout; the relaxed one's for Q8_0 where int8 dots are slow). */
typedef struct { v128_t x0, x1, x2, x3; } XBlock16;
ALWAYS XBlock16 load_xblock16(const int16_t* q) {
  return (XBlock16){wasm_v128_load(q), wasm_v128_load(q + 8), wasm_v128_load(q + 16), wasm_v128_load(q + 24)};
}

ALWAYS v128_t block_dot16(Block16 v, XBlock16 x) {
  return wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(v.w0, x.x0), wasm_i32x4_dot_i16x8(v.w1, x.x1)),
                        wasm_i32x4_add(wasm_i32x4_dot_i16x8(v.w2, x.x2), wasm_i32x4_dot_i16x8(v.w3, x.x3)));
}

#ifdef RELAXED

/** A block's 32 weights as int8 (lo: values 0..15, hi: 16..31). */
typedef struct { v128_t lo, hi; } Block;
ALWAYS Block make_block(v128_t lo, v128_t hi) { return (Block){lo, hi}; }

/**
 * An activation block as quantize_q8_0 stores it in this build: for Q8_0 weights 32 bytes |x|, then
 * 32 bytes of x<0 masks; for Q4_0/Q5_0 weights the 32 int8 quants (read as a0, a1), then unused room.
 */
typedef struct { v128_t a0, a1, m0, m1; } XBlock;
ALWAYS XBlock load_xblock(const int16_t* q) {
  const int8_t* p = (const int8_t*)q;
  return (XBlock){wasm_v128_load(p), wasm_v128_load(p + 16), wasm_v128_load(p + 32), wasm_v128_load(p + 48)};
}

/** c + Σ a·b four bytes per lane; b's bytes must be in [0, 127] (see above). */
ALWAYS v128_t dot_i8_add(v128_t a, v128_t b, v128_t c) {
  typedef signed char i8x16 __attribute__((vector_size(16)));
  typedef int i32x4 __attribute__((vector_size(16)));
  return (v128_t)__builtin_wasm_relaxed_dot_i8x16_i7x16_add_s_i32x4((i8x16)a, (i8x16)b, (i32x4)c);
}

/**
 * Σ a·b over each pair of bytes, as i16x8 (one pmaddubsw on x86): exact while b's bytes are in [0, 127]
 * and every pair sum fits int16 (|a| ≤ 127 and b ≤ 63 here). Without AVX-VNNI, V8 lowers dot_i8_add
 * to this plus a pmaddwd by ones and an add, so where a pmaddwd follows anyway (a scale, or the
 * widening of a block's sum) the pairs are summed in int16 first.
 */
ALWAYS v128_t dot_i8_pairs(v128_t a, v128_t b) {
  typedef signed char i8x16 __attribute__((vector_size(16)));
  return (v128_t)__builtin_wasm_relaxed_dot_i8x16_i7x16_s_i16x8((i8x16)a, (i8x16)b);
}

/** w negated where the mask m is all ones: (w ^ m) - m. */
ALWAYS v128_t signed_by(v128_t w, v128_t m) { return wasm_i8x16_sub(wasm_v128_xor(w, m), m); }

/** c + w·x over 16 values: x given as magnitude a and sign mask m; w in [-127, 127]. */
ALWAYS v128_t dot16_add(v128_t w, v128_t a, v128_t m, v128_t c) { return dot_i8_add(signed_by(w, m), a, c); }

ALWAYS v128_t block_dot(Block v, XBlock x) {
  return dot16_add(v.hi, x.a1, x.m1, dot16_add(v.lo, x.a0, x.m0, wasm_i32x4_splat(0)));
}

/**
 * Σ v·x for weights v in [0, 31] (Q4_0/Q5_0 before their offset) against an activation block stored
 * signed (quantize_q8_0's layout for them: 32 int8 quants in a0, a1; m0, m1 unused).
 */
ALWAYS v128_t block_dot_u(Block v, XBlock x) {
  return wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_add(dot_i8_pairs(x.a0, v.lo), dot_i8_pairs(x.a1, v.hi))); // pairs ≤ 2·31·127, two fit int16
}

/** The same integer for weights that may hold -128: both sides widened to int16. */
ALWAYS v128_t dot_wide(v128_t w, v128_t a, v128_t m) {
  v128_t x = signed_by(a, m);
  return wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(w), wasm_i16x8_extend_low_i8x16(x)),
                        wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(w), wasm_i16x8_extend_high_i8x16(x)));
}
ALWAYS v128_t block_dot_wide(Block v, XBlock x) {
  return wasm_i32x4_add(dot_wide(v.lo, x.a0, x.m0), dot_wide(v.hi, x.a1, x.m1));
}

#else

typedef Block16 Block;
typedef XBlock16 XBlock;
#define make_block make_block16
#define load_xblock load_xblock16
#define block_dot block_dot16

#endif
