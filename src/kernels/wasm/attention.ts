// Attention on the WASM kernels. The interface hands over the KV cache as JS arrays; their copies in
// WASM memory (resident-kv.ts) are brought up to date with just the rows this batch wrote.
import { MeshError } from '../../protocol/errors.ts';
import type { AttentionShape } from '../types.ts';
import type { KernelInstance } from './instance.ts';
import type { ResidentKv } from './resident-kv.ts';

export function wasmAttention(
  k: KernelInstance,
  resident: ResidentKv,
  out: Float32Array,
  q: Float32Array,
  kc: Float32Array,
  vc: Float32Array,
  nTokens: number,
  firstPos: number,
  shape: AttentionShape,
): void {
  const { nHead, nHeadKv, headDim, scale } = shape;
  const rowLen = nHead * headDim,
    kvLen = (firstPos + nTokens) * nHeadKv * headDim;
  if (nHead % nHeadKv !== 0) throw new MeshError('kernel_bad_shape', `attention: ${nHead} heads are not a multiple of ${nHeadKv} KV heads`);
  if (q.length < nTokens * rowLen || out.length < nTokens * rowLen || kc.length < kvLen || vc.length < kvLen) {
    throw new MeshError('kernel_bad_shape', `attention: ${nTokens} tokens at ${firstPos} need q/out of ${nTokens * rowLen} and K/V of ${kvLen} values`);
  }
  if (nTokens === 0) return;
  const { heap, exports: e } = k;
  const qPtr = heap.region('att.q', nTokens * rowLen * 4);
  const changedFrom = firstPos * nHeadKv * headDim;
  const kPtr = resident.sync(kc, kvLen, changedFrom);
  const vPtr = resident.sync(vc, kvLen, changedFrom);
  const sPtr = heap.region('att.scores', (firstPos + nTokens) * 4);
  const oPtr = heap.region('att.out', nTokens * rowLen * 4);
  heap.f32(qPtr, nTokens * rowLen).set(q.subarray(0, nTokens * rowLen));
  e.attention(oPtr, qPtr, kPtr, vPtr, nTokens, firstPos, nHead, nHeadKv, headDim, scale, sPtr);
  out.set(heap.f32(oPtr, nTokens * rowLen));
}
