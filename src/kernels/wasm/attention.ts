// Attention on the WASM kernels. The interface hands over the KV cache as JS arrays; their copies in
// WASM memory (resident-kv.ts) are brought up to date with just the rows this batch wrote.
import { MeshError } from '../../protocol/errors.ts';
import type { AttentionShape } from '../types.ts';
import type { KernelInstance } from './instance.ts';
import type { ResidentKv } from './resident-kv.ts';
import type { ThreadPool } from './thread-pool.ts';

/** Runs on the pool's threads (split by heads) where one is given and the job is big enough. */
export function wasmAttention(
  k: KernelInstance,
  pool: ThreadPool | undefined,
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
  const chunks = pool ? pool.attentionChunks(nHead, firstPos + nTokens, nTokens, headDim) : 1;
  const scoresBytes = Math.ceil((firstPos + nTokens) / 4) * 16; // one row per chunk, each 16-byte aligned
  const sPtr = heap.region('att.scores', chunks * scoresBytes);
  const oPtr = heap.region('att.out', nTokens * rowLen * 4);
  heap.f32(qPtr, nTokens * rowLen).set(q.subarray(0, nTokens * rowLen));
  if (pool) pool.attention(oPtr, qPtr, kPtr, vPtr, nTokens, firstPos, nHead, nHeadKv, headDim, scale, sPtr, scoresBytes, chunks);
  else e.attention(oPtr, qPtr, kPtr, vPtr, nTokens, firstPos, nHead, nHeadKv, headDim, scale, sPtr, 0, nHead);
  out.set(heap.f32(oPtr, nTokens * rowLen));
}
