// Splits each matmul's output rows between the calling thread and N-1 workers sharing the kernels'
// WebAssembly memory. Only where SharedArrayBuffer exists: Node, and cross-origin isolated pages.
import { MeshError } from '../../protocol/errors.ts';
import type { KernelInstance } from './instance.ts';
import { claimWord, CONTROL_INTS, MAX_CHUNKS, Slot, WORKER_STACK_BYTES, workChunks, type WorkerInit } from './thread-protocol.ts';

/** Chunks per thread: enough that a late or descheduled worker leaves little for the others to wait on. */
const CHUNKS_PER_THREAD = 4;
/** Rows below which a chunk is not worth a claim. */
const MIN_CHUNK_ROWS = 16;

interface AnyWorker {
  postMessage(m: unknown): void;
  terminate(): unknown;
}

/** Starts the worker script in Node (worker_threads) or the browser (module Web Worker). */
async function spawnWorker(init: WorkerInit): Promise<AnyWorker> {
  if (typeof process !== 'undefined' && process.versions?.node) {
    const wt = 'node:worker_threads';
    const { Worker } = (await import(/* @vite-ignore */ wt)) as typeof import('node:worker_threads');
    const worker = new Worker(new URL('./thread-worker.ts', import.meta.url));
    worker.unref(); // an idle pool must not keep Node alive
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
      worker.postMessage(init);
    });
    return worker;
  }
  const worker = new Worker(new URL('./thread-worker.ts', import.meta.url), { type: 'module' });
  await new Promise<void>((resolve, reject) => {
    worker.onmessage = () => resolve();
    worker.onerror = (e) => reject(new Error(e.message));
    worker.postMessage(init);
  });
  return worker;
}

/** Whether this thread may block in Atomics.wait (not on a browser page's main thread). */
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

export class ThreadPool {
  readonly threads: number;
  private readonly k: KernelInstance;
  private readonly control: Int32Array;
  private readonly workers: AnyWorker[];
  private readonly block = canBlock();

  private constructor(k: KernelInstance, control: Int32Array, workers: AnyWorker[]) {
    this.k = k;
    this.control = control;
    this.workers = workers;
    this.threads = workers.length + 1;
  }

  /** `threads` in all, counting the caller; k must be an instance of the threads variant. */
  static async start(k: KernelInstance, threads: number): Promise<ThreadPool> {
    const ctrlPtr = k.heap.alloc(CONTROL_INTS * 4);
    const control = new Int32Array(k.heap.memory.buffer, ctrlPtr, CONTROL_INTS);
    control.fill(0);
    const workers: AnyWorker[] = [];
    try {
      for (let index = 1; index < threads; index++) {
        const stackTop = k.heap.alloc(WORKER_STACK_BYTES) + WORKER_STACK_BYTES;
        workers.push(await spawnWorker({ module: k.module, memory: k.heap.memory, control: ctrlPtr, stackTop }));
      }
    } catch (cause) {
      for (const w of workers) void w.terminate();
      throw new MeshError(
        'kernel_threads_unavailable',
        `could not start WASM kernel workers: ${String(cause)}. The single-threaded WASM kernels still work (threads: 1)`,
        { cause },
      );
    }
    return new ThreadPool(k, control, workers);
  }

  /** The same arguments as matmul.c's matmul over all rows; returns when every chunk is done. */
  matmul(
    type: number,
    out: number,
    outStride: number,
    w: number,
    rowBytes: number,
    rows: number,
    x: number,
    d: number,
    sums: number,
    n: number,
    cols: number,
  ): void {
    const c = this.control;
    const e = this.k.exports;
    // Small matmuls are not worth waking anyone: below ~64k multiply-adds the caller does it alone.
    const chunks = Math.min(MAX_CHUNKS, this.threads * CHUNKS_PER_THREAD, Math.ceil(rows / MIN_CHUNK_ROWS));
    if (rows * cols * n < 65536 || chunks < 2) {
      e.matmul(type, out, outStride, w, rowBytes, 0, rows, x, d, sums, n, cols);
      return;
    }
    // Every earlier job is finished (done === chunks). Its claim word is closed first: a worker still
    // looping in it reads these slots while they change, and with a larger new `chunks` it would
    // otherwise claim a chunk of the finished job, run it with mixed parameters and count it in this
    // job's `done` (which then overshoots, and this loop waits forever).
    const generation = (Atomics.load(c, Slot.generation) + 1) | 0;
    Atomics.store(c, Slot.claim, claimWord(generation, MAX_CHUNKS));
    c[Slot.type] = type;
    c[Slot.out] = out;
    c[Slot.outStride] = outStride;
    c[Slot.w] = w;
    c[Slot.rowBytes] = rowBytes;
    c[Slot.rows] = rows;
    c[Slot.x] = x;
    c[Slot.d] = d;
    c[Slot.sums] = sums;
    c[Slot.n] = n;
    c[Slot.cols] = cols;
    c[Slot.chunks] = chunks;
    Atomics.store(c, Slot.done, 0);
    Atomics.store(c, Slot.claim, claimWord(generation, 0));
    Atomics.store(c, Slot.generation, generation);
    Atomics.notify(c, Slot.generation);
    workChunks(c, generation, e.matmul);
    // Only chunks other threads already claimed are left: spin briefly, then sleep where allowed.
    const start = performance.now();
    let spins = 0;
    for (let done = Atomics.load(c, Slot.done); done !== chunks; done = Atomics.load(c, Slot.done)) {
      if (this.block && (++spins & 255) === 0 && performance.now() - start > 0.2) Atomics.wait(c, Slot.done, done, 1);
    }
  }

  stop(): void {
    Atomics.store(this.control, Slot.stop, 1);
    Atomics.add(this.control, Slot.generation, 1);
    Atomics.notify(this.control, Slot.generation);
    for (const w of this.workers) void w.terminate();
  }
}
