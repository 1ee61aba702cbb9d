// Multi-threaded matmul (Node worker_threads over a shared WASM memory): every slice of output rows
// is computed, by the same kernels, so the results equal the single-threaded ones bit for bit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GgmlType, ggmlTypeName } from '../../gguf/ggml-types.ts';
import { quantizedWeight, randomArray } from '../testing/data.ts';
import { createWasmKernels, type WasmKernels } from './index.ts';
import { chunkRows } from './thread-protocol.ts';

let single: WasmKernels, three: WasmKernels;
beforeAll(async () => {
  single = await createWasmKernels();
  three = await createWasmKernels({ threads: 3 });
});
afterAll(() => three?.dispose());

describe('threaded WASM matmul', () => {
  it('chunks cover every row once', () => {
    for (const [rows, chunks] of [
      [1, 3],
      [2, 3],
      [301, 12],
      [4096, 8],
    ]) {
      let next = 0;
      for (let i = 0; i < chunks; i++) {
        const [r0, r1] = chunkRows(rows, chunks, i);
        expect(r0).toBe(next);
        next = r1;
      }
      expect(next).toBe(rows);
    }
  });

  it('a job survives back-to-back calls of different shapes (no stale parameters)', () => {
    const ws = [
      [GgmlType.Q8_0, 1536, 512],
      [GgmlType.F16, 256, 512],
      [GgmlType.Q4_K, 512, 1536],
    ].map(([type, rows, cols], i) => quantizedWeight(`w${i}`, type, rows, cols, randomArray(i, rows * cols)));
    for (let rep = 0; rep < 20; rep++) {
      for (const w of ws) {
        const x = randomArray(rep, w.cols);
        const a = new Float32Array(w.rows),
          b = new Float32Array(w.rows).fill(NaN);
        single.matmul(a, x, w, 1);
        three.matmul(b, x, w, 1);
        expect(Array.from(b)).toEqual(Array.from(a));
      }
    }
  });

  it('runs on the threads it was asked for', () => {
    expect(three.threads).toBe(3);
    expect(single.threads).toBe(1);
  });

  for (const type of [GgmlType.F32, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K]) {
    it(`${ggmlTypeName(type)}: equals the single-threaded result bit for bit`, () => {
      for (const [rows, n] of [
        [301, 1],
        [257, 7],
        [3, 1],
        [64, 32],
      ]) {
        const cols = 512;
        const w = quantizedWeight('w', type, rows, cols, randomArray(rows + type, rows * cols));
        const x = randomArray(n, n * cols);
        const a = new Float32Array(n * rows),
          b = new Float32Array(n * rows).fill(NaN);
        single.matmul(a, x, w, n);
        three.matmul(b, x, w, n);
        expect(Array.from(b)).toEqual(Array.from(a));
      }
    });
  }
});
