// Multi-threaded matmul and attention (Node worker_threads over a shared WASM memory): every slice of
// output rows or heads is computed by the same kernels, so the results equal the single-threaded ones
// bit for bit.
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

  it('jobs of alternating chunk counts, back to back, all finish with the right results', () => {
    // 64 rows go in 4 chunks, 256 in 12: a worker still in the previous job must not take a chunk
    // of a finished one when the next job has more chunks (its `done` count would overshoot). The
    // race is rare: this stress did not hit it before the fix; engine runs alternating 4- and 8-chunk
    // jobs hung within ~25k jobs.
    const small = quantizedWeight('s', GgmlType.Q8_0, 64, 1024, randomArray(11, 64 * 1024));
    const big = quantizedWeight('b', GgmlType.Q8_0, 256, 1024, randomArray(12, 256 * 1024));
    const x = randomArray(13, 1024);
    const wantSmall = new Float32Array(64),
      wantBig = new Float32Array(256);
    single.matmul(wantSmall, x, small, 1);
    single.matmul(wantBig, x, big, 1);
    const gotSmall = new Float32Array(64),
      gotBig = new Float32Array(256);
    for (let i = 0; i < 1000; i++) {
      three.matmul(gotSmall, x, small, 1);
      three.matmul(gotBig, x, big, 1);
    }
    expect(Array.from(gotSmall)).toEqual(Array.from(wantSmall));
    expect(Array.from(gotBig)).toEqual(Array.from(wantBig));
  }, 60_000);

  it('attention split over heads equals the single-threaded result bit for bit, interleaved with matmuls', () => {
    const shape = { nHead: 8, nHeadKv: 2, headDim: 64, scale: 0.125 };
    const w = quantizedWeight('w', GgmlType.Q8_0, 64, 512, randomArray(5, 64 * 512));
    for (const [nTokens, firstPos] of [
      [1, 120],
      [1, 0],
      [7, 30],
      [40, 0],
    ]) {
      const nKv = nTokens + firstPos;
      const q = randomArray(nTokens, nTokens * 512, 2),
        k = randomArray(nKv + 1, nKv * 128),
        v = randomArray(nKv + 2, nKv * 128);
      const a = new Float32Array(nTokens * 512),
        b = new Float32Array(nTokens * 512).fill(NaN);
      single.attention(a, q, k, v, nTokens, firstPos, shape);
      three.attention(b, q, k, v, nTokens, firstPos, shape);
      expect(Array.from(b)).toEqual(Array.from(a));
      // a matmul job right after an attention job reads its own parameters, not the attention's
      const x = randomArray(3, 512),
        m1 = new Float32Array(64),
        m3 = new Float32Array(64).fill(NaN);
      single.matmul(m1, x, w, 1);
      three.matmul(m3, x, w, 1);
      expect(Array.from(m3)).toEqual(Array.from(m1));
    }
  });
});
