// Reference matmul: the activation rows are rounded as ggml rounds them for this weight type, each
// weight row is decoded once to f32, then dotted with every activation row in double precision.
import { ggmlTypeInfo, ggmlTypeName } from '../../gguf/ggml-types.ts';
import { MeshError } from '../../protocol/errors.ts';
import type { WeightMatrix } from '../types.ts';
import { roundActivations } from './activation-rounding.ts';
import { decodeRow } from './decode-row.ts';

/** Bytes of one row of `w`. */
export function rowBytes(w: Pick<WeightMatrix, 'type' | 'cols' | 'name'>): number {
  const info = ggmlTypeInfo(w.type);
  if (!info || w.cols % info.blockSize !== 0) {
    throw new MeshError('kernel_bad_weight', `weight ${w.name}: ${w.cols} columns are not whole ${ggmlTypeName(w.type)} blocks`);
  }
  return (w.cols / info.blockSize) * info.typeSize;
}

export function matmul(out: Float32Array, x: Float32Array, w: WeightMatrix, n: number): void {
  const { rows, cols } = w;
  const stride = rowBytes(w);
  if (w.data.byteLength < rows * stride) {
    throw new MeshError('kernel_bad_weight', `weight ${w.name} has ${w.data.byteLength} bytes, needs ${rows * stride}`);
  }
  if (x.length < n * cols || out.length < n * rows) {
    throw new MeshError('kernel_bad_shape', `matmul ${w.name}: ${n} rows of ${cols} in, ${rows} out, but buffers hold ${x.length} and ${out.length}`);
  }
  const xr = new Float32Array(n * cols);
  for (let t = 0; t < n; t++) xr.set(roundActivations(w.type, x.subarray(t * cols, (t + 1) * cols)), t * cols);
  const row = new Float32Array(cols);
  for (let r = 0; r < rows; r++) {
    decodeRow(w.type, w.data.subarray(r * stride, (r + 1) * stride), cols, row);
    for (let t = 0; t < n; t++) {
      const xo = t * cols;
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += row[c] * xr[xo + c];
      out[t * rows + r] = sum;
    }
  }
}
