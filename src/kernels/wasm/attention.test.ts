// WASM attention against the reference: same causal mask and GQA mapping; scores, softmax and the
// weighted sum run in f32 SIMD (the reference sums in double), so results agree to f32 rounding.
import { beforeAll, describe, expect, it } from 'vitest';
import { attention as referenceAttention } from '../reference/attention.ts';
import { randomArray } from '../testing/data.ts';
import type { AttentionShape } from '../types.ts';
import { createWasmKernels, type WasmKernels } from './index.ts';

let wasm: WasmKernels;
beforeAll(async () => {
  wasm = await createWasmKernels();
});

function compare(shape: AttentionShape, nTokens: number, firstPos: number, qScale: number): void {
  const row = shape.nHead * shape.headDim,
    kvRow = shape.nHeadKv * shape.headDim,
    nKv = firstPos + nTokens;
  const q = randomArray(nTokens + firstPos, nTokens * row, qScale);
  const k = randomArray(2 * nKv + 1, nKv * kvRow, 1),
    v = randomArray(3 * nKv, nKv * kvRow);
  const want = new Float32Array(nTokens * row),
    got = new Float32Array(nTokens * row);
  referenceAttention(want, q, k, v, nTokens, firstPos, shape);
  wasm.attention(got, q, k, v, nTokens, firstPos, shape);
  // Outputs are convex combinations of v (|v| < 1): an absolute bound of a few hundred f32 ulps of 1.
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= 2e-5)) expect.fail(`out[${i}] = ${got[i]}, reference ${want[i]}`);
  }
}

describe('WASM attention equals the reference', () => {
  it('decode and prefill, grouped KV heads, head sizes 64 and 20 (not a multiple of 8)', () => {
    for (const shape of [
      { nHead: 8, nHeadKv: 4, headDim: 64, scale: 1 / 8 },
      { nHead: 4, nHeadKv: 1, headDim: 20, scale: 1 / Math.sqrt(20) },
      { nHead: 2, nHeadKv: 2, headDim: 6, scale: 0.4 },
    ]) {
      compare(shape, 1, 0, 1);
      compare(shape, 1, 37, 1);
      compare(shape, 7, 0, 1);
      compare(shape, 5, 130, 1);
    }
  });

  it('peaked softmax: large scores, tiny weights flushed to zero as in f32', () => {
    compare({ nHead: 2, nHeadKv: 1, headDim: 16, scale: 1 }, 3, 60, 40);
  });

  it('refuses buffers that are too small', () => {
    const shape = { nHead: 2, nHeadKv: 1, headDim: 4, scale: 0.5 };
    expect(() => wasm.attention(new Float32Array(8), new Float32Array(8), new Float32Array(4), new Float32Array(4), 1, 1, shape)).toThrow(
      /need q\/out of 8 and K\/V of 8/,
    );
  });
});
