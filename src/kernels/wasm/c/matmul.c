// matmul entry point: out[t*outStride + r] = row r of the weight · activation row t, for weight rows
// r0..r1 (so threads can split the rows) and n activation rows. Each decoded weight block is dotted
// with TILE activation rows at a time, so prefill decodes each block once per TILE rows; Q8_0 also
// pairs weight rows, so each activation vector loaded serves two rows.
#include "common.h"
#include "rows-float.h"
#include "rows-k.h"
#include "rows-legacy.h"

// ggml type ids (gguf/ggml-types.ts).
enum { F32 = 0, F16 = 1, Q4_0 = 2, Q5_0 = 6, Q8_0 = 8, Q4_K = 12, Q5_K = 13, Q6_K = 14, BF16 = 30 };
/** F16 with no inf/NaN anywhere in the weight (see f16_finite): a cheaper conversion. */
#define F16_FINITE (F16 | 0x100)
/** Q8_0 with a quant of -128 somewhere (see q8_0_has_min): the relaxed build dots it widened. */
#define Q8_0_WIDE (Q8_0 | 0x100)
/** Q8_0 against int16 activations (quantize_q8_0 layout 2): the relaxed build where int8 dots are slow (dot_probe). */
#define Q8_0_I16 (Q8_0 | 0x200)

#define TILED(CALL)                                                   \
  for (int r = r0; r < r1; r++) {                                     \
    const uint8_t* wr = w + (size_t)r * rowBytes;                     \
    float res[TILE];                                                  \
    int t0 = 0;                                                       \
    for (; t0 + TILE <= n; t0 += TILE) {                              \
      CALL(TILE);                                                     \
      for (int t = 0; t < TILE; t++) out[(size_t)(t0 + t) * outStride + r] = res[t]; \
    }                                                                 \
    int left = n - t0;                                                \
    if (left == 3) CALL(3);                                           \
    else if (left == 2) CALL(2);                                      \
    else if (left == 1) CALL(1);                                      \
    for (int t = 0; t < left; t++) out[(size_t)(t0 + t) * outStride + r] = res[t]; \
  }

// One function per type, not inlined into the dispatcher: V8 optimises small functions far better
// (a single function holding every kernel ran Q8_0 decode at half the speed).
#define ROWS(FN)                                                                                                 \
  static __attribute__((noinline)) void matmul_##FN(float* out, int outStride, const uint8_t* w, int rowBytes, int r0, int r1, const Act* a, \
                          int n) {                                                                                 \
    TILED(CALL_##FN)                                                                                               \
  }

/** Bytes of weight rows one tile of activation rows runs against before the next tile (half of L2). */
#define ROW_BLOCK_BYTES 131072

/**
 * The block formats (Q8_0, Q4_0, Q5_0; rows-legacy.h), whose outputs must not depend on how many rows
 * run together: one activation row (decode) goes four weight rows at a time (quad), the 1-3 weight
 * rows left over one at a time (row1); a batch goes in tiles of 4 activation rows, and the rows left
 * over as decode does, or (3 of them) as a tile padded with a zero row (matmul.ts reserves and
 * quantize_q8_0 zeroes it) whose outputs are not written.
 * Tiles run over a block of weight rows at a time, so the block stays in L2 while each tile's
 * activations stay in L1; Q8_0 pairs weight rows (tile2x4), so each activation vector loaded serves two.
 */
/** Activation row t against weight rows r0..r1: quads, then the rows left over one at a time. */
#define QUADS(NAME, t)                                                                                           \
  {                                                                                                              \
    float q4[TILE];                                                                                              \
    float* o = out + (size_t)(t) * outStride;                                                                    \
    int r = r0;                                                                                                  \
    for (; r + 4 <= r1; r += 4) {                                                                                \
      quad_##NAME(w + (size_t)r * rowBytes, rowBytes, a, t, q4);                                                 \
      for (int i = 0; i < 4; i++) o[r + i] = q4[i];                                                              \
    }                                                                                                            \
    for (; r < r1; r++) o[r] = row1_##NAME(w + (size_t)r * rowBytes, a, t);                                      \
  }

/**
 * The rows a batch's whole tiles leave: up to ROWWISE of them go row by row as decode does (cheaper
 * than a tile where decoding a block is cheap: Q8_0), more as a tile padded with zero rows; `tiled`
 * is then how many rows the tiles cover.
 */
#define LEFTOVER(NAME, ROWWISE)                                                                                  \
  int tiled = n % TILE > (ROWWISE) ? (n + TILE - 1) / TILE * TILE : n / TILE * TILE;                             \
  for (int t = tiled; t < n; t++) QUADS(NAME, t)

#define STORE_TILE(o, res, r)                                                                                   \
  for (int t = 0; t < TILE && t0 + t < n; t++) (o)[(size_t)t * outStride + (r)] = (res)[t];

#define PAIRED(NAME, ROWWISE)                                                                                             \
  static __attribute__((noinline)) void matmul_##NAME(float* out, int outStride, const uint8_t* w, int rowBytes, int r0, int r1, const Act* a, \
                          int n) {                                                                                 \
    LEFTOVER(NAME, ROWWISE)                                                                                               \
    int rb = (ROW_BLOCK_BYTES / rowBytes) & ~1;                                                                    \
    if (rb < 2) rb = 2;                                                                                            \
    float res[TILE], res1[TILE];                                                                                   \
    for (int rs = r0; rs < r1 && tiled > 0; rs += rb) {                                                            \
      int re = r1 - rs > rb ? rs + rb : r1;                                                                        \
      for (int t0 = 0; t0 < tiled; t0 += TILE) {                                                                       \
        float* o = out + (size_t)t0 * outStride;                                                                   \
        int r = rs;                                                                                                \
        for (; r + 2 <= re; r += 2) {                                                                              \
          const uint8_t* wr = w + (size_t)r * rowBytes;                                                            \
          tile2x4_##NAME(wr, wr + rowBytes, a, t0, res, res1);                                                     \
          STORE_TILE(o, res, r)                                                                                    \
          STORE_TILE(o, res1, r + 1)                                                                               \
        }                                                                                                          \
        if (r < re) {                                                                                              \
          tile4_##NAME(w + (size_t)r * rowBytes, a, t0, res);                                                      \
          STORE_TILE(o, res, r)                                                                                    \
        }                                                                                                          \
      }                                                                                                            \
    }                                                                                                              \
  }

#define TILES(NAME, ROWWISE)                                                                                              \
  static __attribute__((noinline)) void matmul_##NAME(float* out, int outStride, const uint8_t* w, int rowBytes, int r0, int r1, const Act* a, \
                          int n) {                                                                                 \
    LEFTOVER(NAME, ROWWISE)                                                                                               \
    float res[TILE];                                                                                               \
    for (int r = r0; r < r1 && tiled > 0; r++) {                                                                   \
      const uint8_t* wr = w + (size_t)r * rowBytes;                                                                \
      for (int t0 = 0; t0 < tiled; t0 += TILE) {                                                                       \
        float* o = out + (size_t)t0 * outStride;                                                                   \
        tile4_##NAME(wr, a, t0, res);                                                                              \
        STORE_TILE(o, res, r)                                                                                      \
      }                                                                                                            \
    }                                                                                                              \
  }

#define CALL_q4_k(T) rows_q4_k(wr, a, t0, T, res)
#define CALL_q5_k(T) rows_q5_k(wr, a, t0, T, res)
#define CALL_q6_k(T) rows_q6_k(wr, a, t0, T, res)
#define CALL_f32(T) rows_float(wr, (const float*)a->q, a->cols, t0, T, AS_F32, res)
#define CALL_f16_finite(T) rows_float(wr, (const float*)a->q, a->cols, t0, T, AS_F16_FINITE, res)
#define CALL_f16(T) rows_float(wr, (const float*)a->q, a->cols, t0, T, AS_F16, res)
#define CALL_bf16(T) rows_float(wr, (const float*)a->q, a->cols, t0, T, AS_BF16, res)
PAIRED(q8_0, 2)
TILES(q4_0, 1)
TILES(q5_0, 1)
#ifdef RELAXED
TILES(q8_0w, 2)
PAIRED(q8_0i, 2)
#else
#define matmul_q8_0w matmul_q8_0 // the plain build's int16 dots take -128 as any other value
#define matmul_q8_0i matmul_q8_0 // and int16 activations are its only layout
#endif
ROWS(q4_k)
ROWS(q5_k)
ROWS(q6_k)
ROWS(f32)
ROWS(f16)
ROWS(f16_finite)
ROWS(bf16)

/**
 * x: for quantized types the int16 quants, d their scales, and `extra` the Q8_K sums (K-quants) or
 * the Q8_0 scales per tile of 4 rows (Q8_0, Q4_0, Q5_0); see Act in common.h (the relaxed build
 * stores Q8_0 activations as int8 magnitudes and signs in the same room: block-dot.h). For float types x is
 * the f32 activations. Returns 0, or -1 for a type it has no kernel for.
 */
EXPORT(matmul)
int matmul(int type, float* out, int outStride, const uint8_t* w, int rowBytes, int r0, int r1,
           const void* x, const float* d, const void* extra, int n, int cols) {
  const float* d4 = (const float*)extra;
  Act a = {(const int16_t*)x, d, (const int32_t*)extra, d4, (const int32_t*)(d4 + (size_t)(n + 3) / 4 * 4 * (cols / 32)), cols};
  switch (type) {
    case Q8_0: matmul_q8_0(out, outStride, w, rowBytes, r0, r1, &a, n); return 0;
    case Q8_0_WIDE: matmul_q8_0w(out, outStride, w, rowBytes, r0, r1, &a, n); return 0;
    case Q8_0_I16: matmul_q8_0i(out, outStride, w, rowBytes, r0, r1, &a, n); return 0;
    case Q4_0: matmul_q4_0(out, outStride, w, rowBytes, r0, r1, &a, n); return 0;
    case Q5_0: matmul_q5_0(out, outStride, w, rowBytes, r0, r1, &a, n); return 0;
    case Q4_K: matmul_q4_k(out, outStride, w, rowBytes, r0, r1, &a, n); return 0;
    case Q5_K: matmul_q5_k(out, outStride, w, rowBytes, r0, r1, &a, n); return 0;
    case Q6_K: matmul_q6_k(out, outStride, w, rowBytes, r0, r1, &a, n); return 0;
    case F32: matmul_f32(out, outStride, w, rowBytes, r0, r1, &a, n); return 0;
    case F16: matmul_f16(out, outStride, w, rowBytes, r0, r1, &a, n); return 0;
    case F16_FINITE: matmul_f16_finite(out, outStride, w, rowBytes, r0, r1, &a, n); return 0;
    case BF16: matmul_bf16(out, outStride, w, rowBytes, r0, r1, &a, n); return 0;
    default: return -1;
  }
}

/** 1 when none of the `count` fp16 values at p is inf or NaN (exponent bits all ones). */
EXPORT(f16_finite)
int f16_finite(const uint16_t* p, int count) {
  const v128_t mask = wasm_i16x8_splat(0x7c00);
  v128_t special = wasm_i32x4_splat(0);
  int i = 0;
  for (; i + 8 <= count; i += 8) special = wasm_v128_or(special, wasm_i16x8_eq(wasm_v128_and(wasm_v128_load(p + i), mask), mask));
  for (; i < count; i++) if ((p[i] & 0x7c00) == 0x7c00) return 0;
  return !wasm_v128_any_true(special);
}

/** 1 when one of the `blocks` Q8_0 blocks at p holds the quant -128 (llama.cpp never writes it; a file may). */
EXPORT(q8_0_has_min)
int q8_0_has_min(const uint8_t* p, int blocks) {
  const v128_t min = wasm_i8x16_splat(-128);
  v128_t found = wasm_i32x4_splat(0);
  for (int b = 0; b < blocks; b++) {
    const uint8_t* q = p + (size_t)b * 34 + 2;
    found = wasm_v128_or(found, wasm_v128_or(wasm_i8x16_eq(wasm_v128_load(q), min), wasm_i8x16_eq(wasm_v128_load(q + 16), min)));
  }
  return wasm_v128_any_true(found);
}

/**
 * A throughput probe, timed once by index.ts: n rounds of 8 independent integer dot-adds of 16 bytes,
 * as int8 dots (`relaxed`, the relaxed build only) or as int16 dots of the same bytes. Where V8 has no
 * single instruction for the int8 dot-add (x86 without AVX-VNNI) it takes about 4 times as long.
 */
EXPORT(dot_probe)
int dot_probe(int n, int relaxed) {
  v128_t a = wasm_i32x4_splat(n), b = wasm_i8x16_splat(3);
  v128_t s0 = a, s1 = b, s2 = a, s3 = b, s4 = a, s5 = b, s6 = a, s7 = b;
#ifdef RELAXED
  if (relaxed) {
    for (int i = 0; i < n; i++) {
      s0 = dot_i8_add(a, b, s0), s1 = dot_i8_add(a, b, s1), s2 = dot_i8_add(a, b, s2), s3 = dot_i8_add(a, b, s3);
      s4 = dot_i8_add(a, b, s4), s5 = dot_i8_add(a, b, s5), s6 = dot_i8_add(a, b, s6), s7 = dot_i8_add(a, b, s7);
      a = wasm_i8x16_add(a, b);
    }
  }
#else
  (void)relaxed;
#endif
  if (!relaxed) {
    for (int i = 0; i < n; i++) {
      s0 = wasm_i32x4_add(s0, wasm_i32x4_dot_i16x8(a, b)), s1 = wasm_i32x4_add(s1, wasm_i32x4_dot_i16x8(a, b));
      s2 = wasm_i32x4_add(s2, wasm_i32x4_dot_i16x8(a, b)), s3 = wasm_i32x4_add(s3, wasm_i32x4_dot_i16x8(a, b));
      s4 = wasm_i32x4_add(s4, wasm_i32x4_dot_i16x8(a, b)), s5 = wasm_i32x4_add(s5, wasm_i32x4_dot_i16x8(a, b));
      s6 = wasm_i32x4_add(s6, wasm_i32x4_dot_i16x8(a, b)), s7 = wasm_i32x4_add(s7, wasm_i32x4_dot_i16x8(a, b));
      a = wasm_i8x16_add(a, b);
    }
  }
  v128_t s = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_add(s0, s1), wasm_i32x4_add(s2, s3)), wasm_i32x4_add(wasm_i32x4_add(s4, s5), wasm_i32x4_add(s6, s7)));
  return wasm_i32x4_extract_lane(s, 0);
}
