// A kernel worker (Web Worker or Node worker_thread): instantiates the threads variant over the
// shared memory, then loops forever on the control block: wait for a new generation, take chunks of
// the job (matmul rows or attention heads) until none are left. It spins briefly before sleeping,
// because jobs come back to back during a forward pass and waking from Atomics.wait costs tens of
// microseconds.
import { CONTROL_INTS, jobArgs, Slot, workChunks, type JobExports, type WorkerInit } from './thread-protocol.ts';

const SPIN_MS = 1;

function serve(init: WorkerInit, ready: () => void): void {
  const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
  const exports = instance.exports as unknown as JobExports & { __stack_pointer: WebAssembly.Global };
  exports.__stack_pointer.value = init.stackTop;
  const c = new Int32Array(init.memory.buffer, init.control, CONTROL_INTS);
  const args = jobArgs();
  let seen = Atomics.load(c, Slot.generation);
  ready();
  for (;;) {
    const start = performance.now();
    let spins = 0;
    while (Atomics.load(c, Slot.generation) === seen) {
      if ((++spins & 1023) === 0 && performance.now() - start > SPIN_MS) Atomics.wait(c, Slot.generation, seen);
    }
    seen = Atomics.load(c, Slot.generation);
    if (Atomics.load(c, Slot.stop)) return;
    workChunks(c, seen, exports, args);
  }
}

// Node worker_threads or a Web Worker: the first message carries the WorkerInit.
if (typeof process !== 'undefined' && process.versions?.node) {
  const wt = 'node:worker_threads';
  const { parentPort } = (await import(/* @vite-ignore */ wt)) as typeof import('node:worker_threads');
  parentPort!.once('message', (init: WorkerInit) => serve(init, () => parentPort!.postMessage('ready')));
} else {
  const scope = globalThis as unknown as { onmessage: ((e: { data: WorkerInit }) => void) | null; postMessage(m: unknown): void };
  scope.onmessage = (e) => serve(e.data, () => scope.postMessage('ready'));
}
