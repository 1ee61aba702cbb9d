// Causal grouped-query attention over an f32 KV cache (see src/kernels/reference/attention.ts):
// scores = q·k * scale for the visible positions, max-subtracted softmax, then Σ p·v, in f32 SIMD.
#include "common.h"

ALWAYS float dot_f32(const float* a, const float* b, int len) {
  v128_t acc0 = wasm_f32x4_splat(0), acc1 = wasm_f32x4_splat(0);
  int i = 0;
  for (; i + 8 <= len; i += 8) {
    acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    acc1 = wasm_f32x4_add(acc1, wasm_f32x4_mul(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4)));
  }
  float s = hsum_f32x4(wasm_f32x4_add(acc0, acc1));
  for (; i < len; i++) s += a[i] * b[i];
  return s;
}

/** In-place softmax of x[0..len): max-subtracted exps, normalised by 1/Σ. */
static void softmax_f32(float* x, int len) {
  float max = x[0];
  for (int i = 1; i < len; i++) max = x[i] > max ? x[i] : max;
  v128_t vmax = wasm_f32x4_splat(max), vsum = wasm_f32x4_splat(0);
  int i = 0;
  for (; i + 4 <= len; i += 4) {
    v128_t e = exp_f32x4(wasm_f32x4_sub(wasm_v128_load(x + i), vmax));
    wasm_v128_store(x + i, e);
    vsum = wasm_f32x4_add(vsum, e);
  }
  float sum = hsum_f32x4(vsum);
  for (; i < len; i++) {
    float e = wasm_f32x4_extract_lane(exp_f32x4(wasm_f32x4_splat(x[i] - max)), 0);
    x[i] = e;
    sum += e;
  }
  float inv = 1.0f / sum;
  for (i = 0; i < len; i++) x[i] *= inv;
}

/** Four dot products of q with keys k0..k3 (len a multiple of 4), as one vector [q·k0, q·k1, q·k2, q·k3]. */
ALWAYS v128_t dot4_f32(const float* q, const float* k0, const float* k1, const float* k2, const float* k3, int len) {
  v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
  for (int i = 0; i < len; i += 4) {
    v128_t qv = wasm_v128_load(q + i);
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(qv, wasm_v128_load(k0 + i)));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(qv, wasm_v128_load(k1 + i)));
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(qv, wasm_v128_load(k2 + i)));
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(qv, wasm_v128_load(k3 + i)));
  }
  // A 4x4 transpose folded into the horizontal sums: one reduction for four keys instead of four.
  v128_t u0 = wasm_f32x4_add(wasm_i32x4_shuffle(a0, a1, 0, 4, 1, 5), wasm_i32x4_shuffle(a0, a1, 2, 6, 3, 7));
  v128_t u1 = wasm_f32x4_add(wasm_i32x4_shuffle(a2, a3, 0, 4, 1, 5), wasm_i32x4_shuffle(a2, a3, 2, 6, 3, 7));
  return wasm_f32x4_add(wasm_i32x4_shuffle(u0, u1, 0, 1, 4, 5), wasm_i32x4_shuffle(u0, u1, 2, 3, 6, 7));
}

/** o[0..width) = Σ_j p[j] · v_j[0..width) for width 16, 8 or 4, kept in registers across all keys. */
#define WEIGHTED_SUM(W)                                                                          \
  static void weighted_sum_##W(float* o, const float* p, const float* v, int stride, int count) { \
    v128_t acc[W / 4];                                                                           \
    for (int r = 0; r < W / 4; r++) acc[r] = wasm_f32x4_splat(0);                               \
    for (int j = 0; j < count; j++) {                                                            \
      v128_t pj = wasm_f32x4_splat(p[j]);                                                        \
      const float* vj = v + (size_t)j * stride;                                                  \
      for (int r = 0; r < W / 4; r++) acc[r] = wasm_f32x4_add(acc[r], wasm_f32x4_mul(pj, wasm_v128_load(vj + 4 * r))); \
    }                                                                                            \
    for (int r = 0; r < W / 4; r++) wasm_v128_store(o + 4 * r, acc[r]);                        \
  }
WEIGHTED_SUM(16)
WEIGHTED_SUM(4)

/**
 * Heads h0..h1 of every token (threads split the heads; each head is computed alike whatever the
 * split). q, out: [nTokens][nHead][headDim]; k, v: [position][nHeadKv][headDim]; scores:
 * firstPos+nTokens floats of the caller's own.
 */
EXPORT(attention)
void attention(float* out, const float* q, const float* k, const float* v, int nTokens, int firstPos,
               int nHead, int nHeadKv, int headDim, float scale, float* scores, int h0, int h1) {
  int group = nHead / nHeadKv;
  int kvStride = nHeadKv * headDim;
  v128_t vscale = wasm_f32x4_splat(scale);
  for (int t = 0; t < nTokens; t++) {
    int visible = firstPos + t + 1;
    for (int h = h0; h < h1; h++) {
      const float* qh = q + (size_t)(t * nHead + h) * headDim;
      int kvo = (h / group) * headDim;
      const float* kh = k + kvo;
      int j = 0;
      if ((headDim & 3) == 0) {
        for (; j + 4 <= visible; j += 4) {
          const float* k0 = kh + (size_t)j * kvStride;
          wasm_v128_store(scores + j, wasm_f32x4_mul(dot4_f32(qh, k0, k0 + kvStride, k0 + 2 * kvStride, k0 + 3 * kvStride, headDim), vscale));
        }
      }
      for (; j < visible; j++) scores[j] = dot_f32(qh, kh + (size_t)j * kvStride, headDim) * scale;
      softmax_f32(scores, visible);
      float* o = out + (size_t)(t * nHead + h) * headDim;
      const float* vh = v + kvo;
      int i = 0;
      for (; i + 16 <= headDim; i += 16) weighted_sum_16(o + i, scores, vh + i, kvStride, visible);
      for (; i + 4 <= headDim; i += 4) weighted_sum_4(o + i, scores, vh + i, kvStride, visible);
      for (; i < headDim; i++) {
        float s = 0;
        for (j = 0; j < visible; j++) s += scores[j] * vh[(size_t)j * kvStride + i];
        o[i] = s;
      }
    }
  }
}
