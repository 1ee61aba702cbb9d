// Backend selection: which Kernels implementation runs the model. 'ref' is the scalar TypeScript
// oracle, 'cpu' the WASM SIMD kernels (src/kernels/wasm/), 'webgpu' runs stages and the tail
// on the GPU (engine/webgpu/, WGSL in kernels/wgsl/) where navigator.gpu exists.
import { referenceKernels } from '../kernels/reference/index.ts';
import type { Kernels } from '../kernels/types.ts';
import { EngineError } from './errors.ts';
import type { ComputeOptions } from './model.ts';

export type BackendName = 'ref' | 'cpu' | 'webgpu';
export const BACKENDS: readonly BackendName[] = ['ref', 'cpu', 'webgpu'];

export function isBackendName(x: string): x is BackendName {
  return (BACKENDS as readonly string[]).includes(x);
}

export interface BackendOptions {
  /** WASM threads for 'cpu', counting the caller (default 1; more only where SharedArrayBuffer works). */
  readonly threads?: number;
}

export async function kernelsFor(name: BackendName, options: BackendOptions = {}): Promise<Kernels> {
  switch (name) {
    case 'ref':
      return referenceKernels;
    case 'cpu': {
      // Loaded on demand (a separate chunk in the browser): the WASM module is only fetched when asked for.
      const { createWasmKernels } = await import('../kernels/wasm/index.ts');
      return createWasmKernels({ threads: options.threads });
    }
    case 'webgpu':
      // Op-by-op work left on the host (the head's embedding lookup) uses the reference kernels.
      return referenceKernels;
    default:
      throw new EngineError('engine_backend_unavailable', `unknown backend "${String(name)}"; choose one of ${BACKENDS.join(', ')}`);
  }
}

/** Everything a pipeline needs to compute with `name`: kernels, and for WebGPU the GPU stage backend. */
export async function computeFor(name: BackendName, options: BackendOptions = {}): Promise<ComputeOptions> {
  const kernels = await kernelsFor(name, options);
  if (name !== 'webgpu') return { kernels };
  // Loaded on demand: only pages that ask for WebGPU fetch its shaders. Throws engine_backend_unavailable without navigator.gpu.
  const { sharedWebGpuBackend } = await import('./webgpu/index.ts');
  return { kernels, stages: await sharedWebGpuBackend() };
}

/**
 * The largest batch whose logits rows equal one-token runs' bit for bit on `name` (measured; see
 * InferenceSession.exactBatch). 'ref' runs each row alike at any batch. The WASM matmul dots tiles of
 * 4 activation rows in another float order than the 1-3 rows of decode (kernels/wasm/c/matmul.c), so
 * a Q8_0 model's rows drift apart from 4 rows up. WebGPU is unchecked, so it verifies token by token.
 */
export function exactBatchOf(name: BackendName): number {
  return name === 'ref' ? Number.POSITIVE_INFINITY : name === 'cpu' ? 3 : 1;
}
