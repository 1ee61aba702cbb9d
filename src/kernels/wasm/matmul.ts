// matmul on the WASM kernels: the activation rows are copied in and converted as ggml converts them
// for the weight type (Q8_0 / Q8_K blocks, f16 or bf16 rounding), then one call runs every row.
import { GgmlType } from '../../gguf/ggml-types.ts';
import { MeshError } from '../../protocol/errors.ts';
import { vecDotType } from '../reference/activation-rounding.ts';
import { rowBytes } from '../reference/matmul.ts';
import type { WeightMatrix } from '../types.ts';
import type { KernelInstance } from './instance.ts';
import { Q8_0_I16, type ResidentWeights } from './resident-weights.ts';

/**
 * Where the converted activations sit in WASM memory, in the layout matmul.c reads; `sums` is its
 * `extra` argument (Q8_K block sums, or Q8_0 scales per tile of 4 rows).
 */
export interface PreparedActivations {
  x: number;
  d: number;
  sums: number;
}

/**
 * Copies n rows of x into WASM memory and converts them for weights of type `type`, in the layout the
 * kernel for `kernelType` (ResidentWeights' code for the weight) reads.
 */
export function prepareActivations(k: KernelInstance, type: number, x: Float32Array, n: number, cols: number, kernelType = type): PreparedActivations {
  const { exports: e, heap } = k;
  const len = n * cols;
  const xPtr = heap.region('x', len * 4);
  heap.f32(xPtr, len).set(x.subarray(0, len));
  const dot = vecDotType(type);
  if (dot === GgmlType.F32) return { x: xPtr, d: 0, sums: 0 };
  if (dot === GgmlType.F16 || dot === GgmlType.BF16) {
    const r = heap.region('xr', len * 4);
    (dot === GgmlType.F16 ? e.round_f16 : e.round_bf16)(xPtr, r, len);
    return { x: r, d: 0, sums: 0 };
  }
  if (dot === GgmlType.Q8_0) {
    // room for a last tile of 4 rows: the kernels run a batch in whole tiles, padded with zero rows
    const tiled = Math.ceil(n / 4) * 4 * cols;
    const q = heap.region('xq', tiled * 2);
    const d = heap.region('xd', (len / 32) * 4);
    // the same scales regrouped per tile of 4 rows, then (relaxed build, Q4_0/Q5_0) Σq per block
    const d4 = heap.region('xd4', (tiled / 32) * 8);
    const layout = kernelType === Q8_0_I16 ? 2 : type === GgmlType.Q4_0 || type === GgmlType.Q5_0 ? 1 : 0;
    e.quantize_q8_0(xPtr, n, cols, q, d, d4, layout);
    return { x: q, d, sums: d4 };
  }
  const q = heap.region('xq', len * 2);
  const d = heap.region('xd', (len / 256) * 4);
  const sums = heap.region('xsums', (len / 32) * 4);
  e.quantize_q8_k(xPtr, n, cols, q, d, sums);
  return { x: q, d, sums };
}

/** Checks shapes as the reference does and returns the weight's row stride in bytes. */
export function checkMatmul(out: Float32Array, x: Float32Array, w: WeightMatrix, n: number): number {
  const stride = rowBytes(w);
  if (w.data.byteLength < w.rows * stride) {
    throw new MeshError('kernel_bad_weight', `weight ${w.name} has ${w.data.byteLength} bytes, needs ${w.rows * stride}`);
  }
  if (x.length < n * w.cols || out.length < n * w.rows) {
    throw new MeshError('kernel_bad_shape', `matmul ${w.name}: ${n} rows of ${w.cols} in, ${w.rows} out, but buffers hold ${x.length} and ${out.length}`);
  }
  return stride;
}

/** Runs matmul.c's matmul over all `rows` output rows: directly, or split across a thread pool. */
export type MatmulRunner = (
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
) => void;

export function singleThreaded(k: KernelInstance): MatmulRunner {
  return (type, out, outStride, w, rowBytes, rows, x, d, sums, n, cols) => {
    k.exports.matmul(type, out, outStride, w, rowBytes, 0, rows, x, d, sums, n, cols);
  };
}

export function wasmMatmul(
  k: KernelInstance,
  run: MatmulRunner,
  weights: ResidentWeights,
  out: Float32Array,
  x: Float32Array,
  w: WeightMatrix,
  n: number,
): void {
  const stride = checkMatmul(out, x, w, n);
  if (n === 0 || w.rows === 0) return;
  const weight = weights.resident(w, w.rows * stride);
  const act = prepareActivations(k, w.type, x, n, w.cols, weight.kernelType);
  const outPtr = k.heap.region('out', n * w.rows * 4);
  run(weight.kernelType, outPtr, w.rows, weight.ptr, stride, w.rows, act.x, act.d, act.sums, n, w.cols);
  out.set(k.heap.f32(outPtr, n * w.rows));
}
