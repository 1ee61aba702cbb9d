// The control block the matmul thread pool shares through WASM memory: an Int32Array of job
// parameters, a generation counter the workers wait on (Atomics), and a claim word from which every
// thread, the caller included, takes chunks of output rows until none are left. A worker that wakes
// late (or is descheduled on a busy machine) simply finds nothing left, so the caller never waits
// for a thread that has not started, and the job starts in microseconds, not a postMessage per call.

/** Int32 slots of the control block: the job's kind, how many units (matmul rows, attention heads) it splits, and its arguments. */
export const Slot = {
  generation: 0,
  claim: 1,
  done: 2,
  stop: 3,
  chunks: 4,
  kind: 5,
  units: 6,
  /** The first of ARGS argument slots. */
  args: 7,
} as const;
export const ARGS = 12;
export const CONTROL_INTS = Slot.args + ARGS;

/** What a job runs: matmul.c's matmul over rows r0..r1, or attention.c's attention over heads h0..h1. */
export const JobKind = { matmul: 0, attention: 1 } as const;

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

/** attention.c's attention over heads h0..h1 (the export a job calls). */
export type Attention = (
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
  h0: number,
  h1: number,
) => void;

/** The kernel exports a job calls. */
export interface JobExports {
  readonly matmul: Matmul;
  readonly attention: Attention;
}

/** A thread's copy of a job's arguments, as ints and (the same bytes) as floats. */
export interface JobArgs {
  readonly ints: Int32Array;
  readonly floats: Float32Array;
}

export function jobArgs(): JobArgs {
  const ints = new Int32Array(ARGS);
  return { ints, floats: new Float32Array(ints.buffer) };
}

/**
 * Arguments of a matmul job: type, out, outStride, w, rowBytes, x, d, sums, n, cols (units: rows).
 * Of an attention job: out, q, k, v, nTokens, firstPos, nHead, nHeadKv, headDim, scale (f32 bits),
 * scores, scores bytes per chunk (units: heads; each chunk its own scores row).
 */
function runChunk(kind: number, a: Int32Array, f: Float32Array, next: number, u0: number, u1: number, e: JobExports): void {
  if (kind === JobKind.matmul) e.matmul(a[0], a[1], a[2], a[3], a[4], u0, u1, a[5], a[6], a[7], a[8], a[9]);
  else e.attention(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], f[9], a[10] + next * a[11], u0, u1);
}

/**
 * Takes chunks of the job published under `generation` and computes them until none are left or a
 * newer job replaced it. Parameters are copied before each claim: a successful compare-exchange
 * proves the job was still unfinished, so the caller had not yet overwritten them into `a`, this
 * thread's own copy (jobArgs()).
 */
export function workChunks(c: Int32Array, generation: number, e: JobExports, a: JobArgs): void {
  const { ints: args, floats: f } = a;
  for (;;) {
    const kind = c[Slot.kind],
      units = c[Slot.units],
      chunks = c[Slot.chunks];
    for (let i = 0; i < ARGS; i++) args[i] = c[Slot.args + i];
    const claim = Atomics.load(c, Slot.claim);
    const next = claim & MAX_CHUNKS;
    if (claim >>> CHUNK_BITS !== (generation & 0x7fff) || next >= chunks) return;
    if (Atomics.compareExchange(c, Slot.claim, claim, claim + 1) !== claim) continue;
    const [u0, u1] = chunkRows(units, chunks, next);
    if (u1 > u0) runChunk(kind, args, f, next, u0, u1, e);
    if (Atomics.add(c, Slot.done, 1) + 1 === chunks) Atomics.notify(c, Slot.done);
  }
}
