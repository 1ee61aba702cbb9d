// Which backend and how many threads the worker runs when the page does not force them: the WASM
// CPU kernels, on several threads when SharedArrayBuffer works (cross-origin isolated pages, Node),
// on one otherwise. WebGPU only when asked for, until its stages beat the CPU on real GPUs.
import type { BackendName } from '../../src/engine/backend.ts';
import { EngineWorkerError } from '../../src/engine/worker-errors.ts';
import type { WorkerBackendChoice } from '../../src/protocol/engine-worker.ts';

/** More threads than this rarely help decode on small models: it is memory-bound. */
export const MAX_AUTO_THREADS = 4;

export interface Environment {
  /** SharedArrayBuffer usable by worker threads (crossOriginIsolated, or Node). */
  readonly sharedMemory: boolean;
  /** navigator.hardwareConcurrency, or 1 when unknown. */
  readonly cores: number;
}

export function currentEnvironment(): Environment {
  const node = typeof process !== 'undefined' && !!process.versions?.node;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  return { sharedMemory: typeof SharedArrayBuffer !== 'undefined' && (node || isolated), cores: Math.max(1, cores) };
}

export interface BackendPick {
  readonly backend: BackendName;
  readonly threads: number;
}

export function pickBackend(choice: WorkerBackendChoice | undefined, threads: number | undefined, env: Environment): BackendPick {
  const c = choice ?? 'auto';
  if (!['auto', 'ref', 'cpu', 'webgpu'].includes(c)) {
    throw new EngineWorkerError('worker_bad_request', `backend must be auto, ref, cpu or webgpu, got "${String(c)}"`);
  }
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
    throw new EngineWorkerError('worker_bad_request', `threads must be a positive integer, got ${threads}`);
  }
  const backend: BackendName = c === 'auto' ? 'cpu' : c;
  if (backend !== 'cpu') return { backend, threads: 1 };
  if (!env.sharedMemory) return { backend, threads: 1 }; // asked-for threads quietly become one, as the kernels do
  return { backend, threads: threads ?? Math.min(MAX_AUTO_THREADS, env.cores) };
}
