// The inference worker in Node: workers/inference-worker.ts on a worker_thread behind the same
// WorkerEngine client the page uses, so the companion (and tests) get the exact browser code path.
import { Worker } from 'node:worker_threads';
import { WorkerEngine, type WorkerLike } from '../worker-client.ts';

const ENTRY = new URL('../../../workers/inference-worker.ts', import.meta.url);

/** comlink's node adapter maps every listener onto 'message'; errors and exits need their own events. */
function workerLike(worker: Worker): WorkerLike {
  const wrapped = new Map<(e: unknown) => void, (...a: unknown[]) => void>();
  return {
    postMessage: (m, transfer) => worker.postMessage(m, transfer as never),
    addEventListener(type, listener) {
      const l =
        type === 'message'
          ? (data: unknown) => listener({ data })
          : type === 'error'
            ? (err: unknown) => listener({ message: String((err as Error)?.message ?? err) })
            : (...a: unknown[]) => listener(a[0]);
      wrapped.set(listener, l);
      worker.on(type, l);
      if (type === 'error') worker.on('exit', (code) => l(new Error(`exit code ${code}`)));
    },
    removeEventListener(type, listener) {
      const l = wrapped.get(listener);
      if (l) worker.off(type, l);
      wrapped.delete(listener);
    },
    terminate: () => void worker.terminate(),
  };
}

export async function startNodeInferenceWorker(): Promise<WorkerEngine> {
  const worker = new Worker(ENTRY);
  return WorkerEngine.create(workerLike(worker));
}
