// How many tokens one extend() may run while its logits rows stay bit-identical to one-token runs, per
// backend: what speculative verification may batch without changing greedy output. Import-free, so
// the page can ask it of a worker's backend without loading any kernels.

/**
 * The largest batch whose logits rows equal one-token runs' bit for bit on `backend` (measured; see
 * InferenceSession.exactBatch). 'ref' runs each row alike at any batch. The WASM matmul dots tiles of
 * 4 activation rows in another float order than the 1-3 rows of decode (kernels/wasm/c/matmul.c), so
 * a Q8_0 model's rows drift apart from 4 rows up. WebGPU is unchecked, so it verifies token by token.
 */
export function exactBatchOf(backend: 'ref' | 'cpu' | 'webgpu'): number {
  return backend === 'ref' ? Number.POSITIVE_INFINITY : backend === 'cpu' ? 3 : 1;
}
