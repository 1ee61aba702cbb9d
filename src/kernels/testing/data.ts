// Helpers for kernel tests (reference and fast backends alike): seeded random data and weights
// encoded as a GGUF file would hold them.
import { GgmlType } from '../../gguf/ggml-types.ts';
import { quantizeRow } from '../../gguf/quant/index.ts';
import { mulberry32 } from '../../testing/mulberry32.ts';
import type { WeightMatrix } from '../types.ts';

/** n uniform values in [-scale, scale). */
export function randomArray(seed: number, n: number, scale = 1): Float32Array {
  const r = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

export function f32Weight(name: string, rows: number, cols: number, values: Float32Array): WeightMatrix {
  const data = new Uint8Array(values.slice(0, rows * cols).buffer);
  return { name, type: GgmlType.F32, rows, cols, data };
}

export function f16Weight(name: string, rows: number, cols: number, values: Float32Array): WeightMatrix {
  return quantizedWeight(name, GgmlType.F16, rows, cols, values);
}

/** `values` (rows × cols) encoded as ggml type `type` with the project's quantizers. */
export function quantizedWeight(name: string, type: number, rows: number, cols: number, values: Float32Array): WeightMatrix {
  return { name, type, rows, cols, data: quantizeRow(type, values.subarray(0, rows * cols)) };
}
