// How many tokens one extend() may run while its logits rows stay bit-identical to one-token runs, per
// backend: what speculative verification may batch without changing greedy output. Import-free, so
// the page can ask it of a worker's backend without loading any kernels.

/**
 * The largest batch whose logits rows equal one-token runs' bit for bit on `backend` (measured:
 * engine/batch-invariance.test.ts; see InferenceSession.exactBatch). 'ref' runs each row alike at any
 * batch; so does 'cpu', whose WASM kernels sum each output in one order however many rows run
 * together (kernels/wasm/c/rows-legacy.h: tiles of 4 activation rows for a batch, quads of 4 weight
 * rows for decode, one order). WebGPU is unchecked, so it verifies token by token.
 */
export function exactBatchOf(backend: 'ref' | 'cpu' | 'webgpu'): number {
  return backend === 'webgpu' ? 1 : Number.POSITIVE_INFINITY;
}
