// Causal grouped-query attention over a KV cache, as llama.cpp computes it without flash attention:
// scores = q·k * scale, masked to positions <= the query's, softmax in f32, then the weighted sum of v.
import type { AttentionShape } from '../types.ts';
import { softmax } from './elementwise.ts';

export function attention(
  out: Float32Array,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  nTokens: number,
  firstPos: number,
  shape: AttentionShape,
): void {
  const { nHead, nHeadKv, headDim, scale } = shape;
  const group = nHead / nHeadKv; // query heads sharing one KV head
  const kvStride = nHeadKv * headDim;
  const nKv = firstPos + nTokens;
  const scores = new Float32Array(nKv);
  const acc = new Float64Array(headDim);
  for (let t = 0; t < nTokens; t++) {
    const visible = firstPos + t + 1; // causal mask: the query sees itself and everything before
    for (let h = 0; h < nHead; h++) {
      const qo = (t * nHead + h) * headDim;
      const kvo = Math.floor(h / group) * headDim;
      for (let j = 0; j < visible; j++) {
        const ko = j * kvStride + kvo;
        let dot = 0;
        for (let i = 0; i < headDim; i++) dot += q[qo + i] * k[ko + i];
        scores[j] = Math.fround(dot) * scale;
      }
      softmax(scores, 0, visible);
      acc.fill(0);
      for (let j = 0; j < visible; j++) {
        const p = scores[j];
        const vo = j * kvStride + kvo;
        for (let i = 0; i < headDim; i++) acc[i] += p * v[vo + i];
      }
      for (let i = 0; i < headDim; i++) out[qo + i] = acc[i];
    }
  }
}
