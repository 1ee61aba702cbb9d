import { describe, expect, it } from 'vitest';
import { ggmlTypeName } from '../../gguf/ggml-types.ts';
import { dequantizeRow, QUANT_TYPES } from '../../gguf/quant/index.ts';
import { f16Weight, f32Weight, quantizedWeight, randomArray } from '../testing/data.ts';
import { fp16ToFp32, fp32ToFp16 } from '../../gguf/quant/half.ts';
import { roundActivations } from './activation-rounding.ts';
import { embed } from './embed.ts';
import { matmul } from './matmul.ts';

/** out[t][r] = Σ_c W[r][c] x[t][c], written as plainly as possible. */
function naive(w: Float32Array, rows: number, cols: number, x: Float32Array, n: number): Float64Array {
  const out = new Float64Array(n * rows);
  for (let t = 0; t < n; t++)
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += w[r * cols + c] * x[t * cols + c];
      out[t * rows + r] = s;
    }
  return out;
}

describe('reference matmul', () => {
  it('multiplies a batch of activation rows by an F32 weight', () => {
    const rows = 7,
      cols = 12,
      n = 3;
    const wv = randomArray(1, rows * cols),
      x = randomArray(2, n * cols);
    const out = new Float32Array(n * rows);
    matmul(out, x, f32Weight('w', rows, cols, wv), n);
    const want = naive(wv, rows, cols, x, n);
    for (let i = 0; i < out.length; i++) expect(out[i]).toBeCloseTo(want[i], 5);
  });

  it('decodes F16 weights exactly before multiplying', () => {
    const rows = 5,
      cols = 8,
      n = 2;
    const wv = randomArray(3, rows * cols);
    const w = f16Weight('w16', rows, cols, wv);
    const bits = new Uint16Array(w.data.buffer);
    const decoded = Float32Array.from(bits, fp16ToFp32);
    for (let i = 0; i < decoded.length; i++) expect(Math.abs(decoded[i] - wv[i])).toBeLessThan(1e-3);
    const x = randomArray(4, n * cols);
    const out = new Float32Array(n * rows);
    matmul(out, x, w, n);
    const xr = new Float32Array(n * cols); // activations as ggml converts them for an F16 weight: f16
    for (let i = 0; i < xr.length; i++) xr[i] = fp16ToFp32(fp32ToFp16(x[i]));
    const want = naive(decoded, rows, cols, xr, n);
    for (let i = 0; i < out.length; i++) expect(out[i]).toBeCloseTo(want[i], 5);
  });

  for (const type of QUANT_TYPES) {
    it(`walks ${ggmlTypeName(type)} rows block by block`, () => {
      const rows = 3,
        cols = 512,
        n = 2; // 512 is whole blocks of every type
      const w = quantizedWeight('wq', type, rows, cols, randomArray(10 + type, rows * cols));
      const decoded = dequantizeRow(type, w.data, rows * cols);
      const x = randomArray(11, n * cols);
      const out = new Float32Array(n * rows);
      matmul(out, x, w, n);
      const xr = new Float32Array(n * cols);
      for (let t = 0; t < n; t++) xr.set(roundActivations(type, x.subarray(t * cols, (t + 1) * cols)), t * cols);
      const want = naive(decoded, rows, cols, xr, n);
      for (let i = 0; i < out.length; i++) expect(out[i]).toBeCloseTo(want[i], 4);
    });
  }

  it('refuses buffers that do not match the shapes', () => {
    const w = f32Weight('w', 4, 4, randomArray(5, 16));
    expect(() => matmul(new Float32Array(4), new Float32Array(4), w, 2)).toThrow(/matmul w/);
    const short = { ...w, data: w.data.subarray(0, 32) };
    expect(() => matmul(new Float32Array(4), new Float32Array(4), short, 1)).toThrow(/has 32 bytes/);
  });
});

describe('reference embed', () => {
  it('copies the rows named by the token ids', () => {
    const table = randomArray(6, 10 * 4);
    const out = new Float32Array(3 * 4);
    embed(out, f32Weight('tok', 10, 4, table), Int32Array.from([9, 0, 9]));
    expect(Array.from(out.subarray(0, 4))).toEqual(Array.from(table.subarray(36, 40)));
    expect(Array.from(out.subarray(4, 8))).toEqual(Array.from(table.subarray(0, 4)));
    expect(Array.from(out.subarray(8, 12))).toEqual(Array.from(table.subarray(36, 40)));
  });

  it('refuses token ids outside the vocabulary', () => {
    const w = f32Weight('tok', 10, 4, randomArray(7, 40));
    expect(() => embed(new Float32Array(4), w, Int32Array.from([10]))).toThrow(/outside the vocabulary/);
  });
});
