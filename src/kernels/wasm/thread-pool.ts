// Splits each matmul's output rows, and each attention's heads, between the calling thread and N-1
// workers sharing the kernels' WebAssembly memory. Only where SharedArrayBuffer exists: Node, and cross-origin isolated pages.
import { MeshError } from '../../protocol/errors.ts';
import type { KernelInstance } from './instance.ts';
import { ARGS, claimWord, CONTROL_INTS, jobArgs, JobKind, MAX_CHUNKS, Slot, WORKER_STACK_BYTES, workChunks, type WorkerInit } from './thread-protocol.ts';

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
  /** The job being published, and the caller's own copy that workChunks reads it into. */
  private readonly args = jobArgs();
  private readonly ownArgs = jobArgs();

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
    const e = this.k.exports;
    // Small matmuls are not worth waking anyone: below ~64k multiply-adds the caller does it alone.
    const chunks = Math.min(MAX_CHUNKS, this.threads * CHUNKS_PER_THREAD, Math.ceil(rows / MIN_CHUNK_ROWS));
    if (rows * cols * n < 65536 || chunks < 2) {
      e.matmul(type, out, outStride, w, rowBytes, 0, rows, x, d, sums, n, cols);
      return;
    }
    const a = this.args.ints;
    a[0] = type;
    a[1] = out;
    a[2] = outStride;
    a[3] = w;
    a[4] = rowBytes;
    a[5] = x;
    a[6] = d;
    a[7] = sums;
    a[8] = n;
    a[9] = cols;
    this.run(JobKind.matmul, rows, chunks);
  }

  /** Chunks an attention job over heads takes: each needs its own scores row (the caller reserves them). */
  attentionChunks(nHead: number, visible: number, nTokens: number, headDim: number): number {
    // Below ~16k multiply-adds a hand-off costs more than it saves.
    if (this.threads < 2 || nHead < 2 || visible * nTokens * headDim * nHead < 16384) return 1;
    return Math.min(nHead, this.threads * 2);
  }

  /**
   * attention.c's attention over all heads, split in `chunks` (attentionChunks()) chunks of heads;
   * chunk i uses the scores row at scores + i * scoresBytes.
   */
  attention(
    out: number,
    q: number,
    k: number,
    v: number,
    nTokens: number,
    firstPos: number,
    nHead: number,
    nHeadKv: number,
    headDim: number,
    scale: number,
    scores: number,
    scoresBytes: number,
    chunks: number,
  ): void {
    if (chunks < 2) {
      this.k.exports.attention(out, q, k, v, nTokens, firstPos, nHead, nHeadKv, headDim, scale, scores, 0, nHead);
      return;
    }
    const a = this.args.ints;
    a[0] = out;
    a[1] = q;
    a[2] = k;
    a[3] = v;
    a[4] = nTokens;
    a[5] = firstPos;
    a[6] = nHead;
    a[7] = nHeadKv;
    a[8] = headDim;
    this.args.floats[9] = scale;
    a[10] = scores;
    a[11] = scoresBytes;
    this.run(JobKind.attention, nHead, chunks);
  }

  /** Publishes the job in this.args, works on it too, and returns when every chunk is done. */
  private run(kind: number, units: number, chunks: number): void {
    const c = this.control;
    // Every earlier job is finished (done === chunks). Its claim word is closed first: a worker still
    // looping in it reads these slots while they change, and with a larger new `chunks` it would
    // otherwise claim a chunk of the finished job, run it with mixed parameters and count it in this
    // job's `done` (which then overshoots, and this loop waits forever).
    const generation = (Atomics.load(c, Slot.generation) + 1) | 0;
    Atomics.store(c, Slot.claim, claimWord(generation, MAX_CHUNKS));
    c[Slot.kind] = kind;
    c[Slot.units] = units;
    c[Slot.chunks] = chunks;
    for (let i = 0; i < ARGS; i++) c[Slot.args + i] = this.args.ints[i];
    Atomics.store(c, Slot.done, 0);
    Atomics.store(c, Slot.claim, claimWord(generation, 0));
    Atomics.store(c, Slot.generation, generation);
    Atomics.notify(c, Slot.generation);
    workChunks(c, generation, this.k.exports, this.ownArgs);
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
