// Token embedding lookup: decodes the rows of the table named by the token ids (ggml_get_rows).
import { MeshError } from '../../protocol/errors.ts';
import type { WeightMatrix } from '../types.ts';
import { decodeRow } from './decode-row.ts';
import { rowBytes } from './matmul.ts';

export function embed(out: Float32Array, table: WeightMatrix, ids: Int32Array): void {
  const stride = rowBytes(table);
  const row = new Float32Array(table.cols);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t];
    if (!(id >= 0 && id < table.rows)) {
      throw new MeshError('kernel_bad_token', `token id ${id} is outside the vocabulary (0..${table.rows - 1})`);
    }
    decodeRow(table.type, table.data.subarray(id * stride, (id + 1) * stride), table.cols, row);
    out.set(row, t * table.cols);
  }
}
