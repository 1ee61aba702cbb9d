// The control block the matmul thread pool shares through WASM memory: an Int32Array of job
// parameters, a generation counter the workers wait on (Atomics), and a claim word from which every
// thread, the caller included, takes chunks of output rows until none are left. A worker that wakes
// late (or is descheduled on a busy machine) simply finds nothing left, so the caller never waits
// for a thread that has not started, and the job starts in microseconds, not a postMessage per call.

/** Int32 slots of the control block. */
export const Slot = {
  generation: 0,
  claim: 1,
  done: 2,
  stop: 3,
  chunks: 4,
  type: 5,
  out: 6,
  outStride: 7,
  w: 8,
  rowBytes: 9,
  rows: 10,
  x: 11,
  d: 12,
  sums: 13,
  n: 14,
  cols: 15,
} as const;
export const CONTROL_INTS = 16;

/** claim = (generation & 0x7fff) << 16 | next chunk: a stale worker's compare-exchange always fails. */
export const CHUNK_BITS = 16;
export const MAX_CHUNKS = (1 << CHUNK_BITS) - 1;

export function claimWord(generation: number, next: number): number {
  return ((generation & 0x7fff) << CHUNK_BITS) | next;
}

/** Bytes of linear-memory stack each worker gets (the C code keeps almost everything in registers). */
export const WORKER_STACK_BYTES = 65536;

/** What a worker is started with (one postMessage, then only the control block). */
export interface WorkerInit {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly control: number;
  readonly stackTop: number;
}

/** Rows [r0, r1) of chunk i when `rows` rows are split into `chunks` chunks. */
export function chunkRows(rows: number, chunks: number, i: number): [number, number] {
  return [Math.floor((rows * i) / chunks), Math.floor((rows * (i + 1)) / chunks)];
}

type Matmul = (
  type: number,
  out: number,
  outStride: number,
  w: number,
  rowBytes: number,
  r0: number,
  r1: number,
  x: number,
  d: number,
  sums: number,
  n: number,
  cols: number,
) => number;

/**
 * Takes chunks of the job published under `generation` and computes them until none are left or a
 * newer job replaced it. Parameters are read before each claim: a successful compare-exchange
 * proves the job was still unfinished, so the caller had not yet overwritten them.
 */
export function workChunks(c: Int32Array, generation: number, matmul: Matmul): void {
  for (;;) {
    const type = c[Slot.type],
      out = c[Slot.out],
      outStride = c[Slot.outStride],
      w = c[Slot.w],
      rowBytes = c[Slot.rowBytes];
    const rows = c[Slot.rows],
      x = c[Slot.x],
      d = c[Slot.d],
      sums = c[Slot.sums],
      n = c[Slot.n],
      cols = c[Slot.cols];
    const chunks = c[Slot.chunks];
    const claim = Atomics.load(c, Slot.claim);
    const next = claim & MAX_CHUNKS;
    if (claim >>> CHUNK_BITS !== (generation & 0x7fff) || next >= chunks) return;
    if (Atomics.compareExchange(c, Slot.claim, claim, claim + 1) !== claim) continue;
    const [r0, r1] = chunkRows(rows, chunks, next);
    if (r1 > r0) matmul(type, out, outStride, w, rowBytes, r0, r1, x, d, sums, n, cols);
    if (Atomics.add(c, Slot.done, 1) + 1 === chunks) Atomics.notify(c, Slot.done);
  }
}
