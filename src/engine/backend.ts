// Backend selection: which Kernels implementation runs the model. 'ref' is the scalar TypeScript
// oracle, 'cpu' the WASM SIMD kernels (src/kernels/wasm/), 'webgpu' runs stages and the tail
// on the GPU (engine/webgpu/, WGSL in kernels/wgsl/) where navigator.gpu exists.
import { referenceKernels } from '../kernels/reference/index.ts';
import type { Kernels } from '../kernels/types.ts';
import { EngineError } from './errors.ts';
export { exactBatchOf } from './exact-batch.ts';
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
