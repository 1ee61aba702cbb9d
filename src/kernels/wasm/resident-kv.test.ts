// The WASM attention keeps the KV cache resident and copies only the rows a batch wrote: appending,
// rolling back and rewriting (speculative decoding), and a regrown cache all still give the reference.
import { beforeAll, describe, expect, it } from 'vitest';
import { attention as referenceAttention } from '../reference/attention.ts';
import { randomArray } from '../testing/data.ts';
import { createWasmKernels, type WasmKernels } from './index.ts';

let wasm: WasmKernels;
beforeAll(async () => {
  wasm = await createWasmKernels();
});

const shape = { nHead: 4, nHeadKv: 2, headDim: 8, scale: 1 / Math.sqrt(8) };
const row = shape.nHead * shape.headDim,
  kvRow = shape.nHeadKv * shape.headDim;

describe('resident KV for WASM attention', () => {
  it('append, roll back, rewrite and regrow: every call equals the reference on the current cache', () => {
    let k = new Float32Array(64 * kvRow),
      v = new Float32Array(64 * kvRow);
    let seed = 1,
      length = 0;
    const step = (n: number) => {
      // Write the batch's rows at the current length, as KvCache does, then attend.
      k.set(randomArray(seed++, n * kvRow, 1), length * kvRow);
      v.set(randomArray(seed++, n * kvRow, 1), length * kvRow);
      const q = randomArray(seed++, n * row, 1);
      const want = new Float32Array(n * row),
        got = new Float32Array(n * row);
      referenceAttention(want, q, k, v, n, length, shape);
      wasm.attention(got, q, k, v, n, length, shape);
      for (let i = 0; i < want.length; i++)
        if (!(Math.abs(got[i] - want[i]) <= 2e-5)) expect.fail(`at length ${length}: out[${i}] = ${got[i]}, reference ${want[i]}`);
      length += n;
    };
    step(7); // prefill
    for (let i = 0; i < 5; i++) step(1); // decode
    length -= 4; // rollback of rejected speculative tokens
    step(3); // verification batch over the rolled-back rows, with new values
    step(1);
    // The cache regrows: a new, larger array holding the same rows.
    const k2 = new Float32Array(128 * kvRow),
      v2 = new Float32Array(128 * kvRow);
    k2.set(k.subarray(0, length * kvRow));
    v2.set(v.subarray(0, length * kvRow));
    k = k2;
    v = v2;
    for (let i = 0; i < 60; i++) step(1);
    length = 0; // a full rollback
    step(5);
  });
});
