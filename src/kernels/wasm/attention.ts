// Attention on the WASM kernels. The interface hands over the KV cache as JS arrays, so the visible
// part of K and V is copied in per call (a memcpy, cheaper than the SIMD work it feeds).
import { MeshError } from '../../protocol/errors.ts';
import type { AttentionShape } from '../types.ts';
import type { KernelInstance } from './instance.ts';

export function wasmAttention(k: KernelInstance, out: Float32Array, q: Float32Array, kc: Float32Array, vc: Float32Array,
  nTokens: number, firstPos: number, shape: AttentionShape): void {
  const { nHead, nHeadKv, headDim, scale } = shape;
  const rowLen = nHead * headDim, kvLen = (firstPos + nTokens) * nHeadKv * headDim;
  if (nHead % nHeadKv !== 0) throw new MeshError('kernel_bad_shape', `attention: ${nHead} heads are not a multiple of ${nHeadKv} KV heads`);
  if (q.length < nTokens * rowLen || out.length < nTokens * rowLen || kc.length < kvLen || vc.length < kvLen) {
    throw new MeshError('kernel_bad_shape', `attention: ${nTokens} tokens at ${firstPos} need q/out of ${nTokens * rowLen} and K/V of ${kvLen} values`);
  }
  if (nTokens === 0) return;
  const { heap, exports: e } = k;
  const qPtr = heap.region('att.q', nTokens * rowLen * 4);
  const kPtr = heap.region('att.k', kvLen * 4);
  const vPtr = heap.region('att.v', kvLen * 4);
  const sPtr = heap.region('att.scores', (firstPos + nTokens) * 4);
  const oPtr = heap.region('att.out', nTokens * rowLen * 4);
  heap.f32(qPtr, nTokens * rowLen).set(q.subarray(0, nTokens * rowLen));
  heap.f32(kPtr, kvLen).set(kc.subarray(0, kvLen));
  heap.f32(vPtr, kvLen).set(vc.subarray(0, kvLen));
  e.attention(oPtr, qPtr, kPtr, vPtr, nTokens, firstPos, nHead, nHeadKv, headDim, scale, sPtr);
  out.set(heap.f32(oPtr, nTokens * rowLen));
}
