// The activation conversions in WASM are bit-identical to the reference's (ggml's x86 rounding):
// this is what makes the quantized matmuls compute the very integers llama.cpp computes.
import { beforeAll, describe, expect, it } from 'vitest';
import { GgmlType } from '../../gguf/ggml-types.ts';
import { roundActivations } from '../reference/activation-rounding.ts';
import { randomArray } from '../testing/data.ts';
import { instantiateKernels, type KernelInstance } from './instance.ts';
import { prepareActivations } from './matmul.ts';

let k: KernelInstance;
beforeAll(async () => {
  k = await instantiateKernels();
});

/** The f32 values the WASM layout stands for: q·d per block, or the rounded floats themselves. */
function wasmRounded(type: number, x: Float32Array, n: number, cols: number): Float32Array {
  const act = prepareActivations(k, type, x, n, cols);
  const len = n * cols;
  if (act.d === 0) return k.heap.f32(act.x, len).slice();
  const block = type === GgmlType.Q8_0 ? 32 : 256;
  const q = new Int16Array(k.heap.memory.buffer, act.x, len);
  const d = k.heap.f32(act.d, len / block);
  return Float32Array.from(q, (v, i) => Math.fround(d[Math.floor(i / block)] * v));
}

/** Values with -0 made +0: an integer quant cannot hold the sign of a zero, and it never matters to a dot. */
function plain(x: Float32Array): number[] {
  return Array.from(x, (v) => v + 0);
}

function rows(): Float32Array[] {
  const ties = new Float32Array(512).fill(0);
  ties[0] = 127;
  ties[1] = 2.5;
  ties[2] = -2.5;
  ties[3] = 3.5;
  ties[4] = 0.5; // x·id lands on .5
  ties[256] = -127;
  ties[257] = 1.5;
  ties[258] = -0.5;
  const mixed = randomArray(9, 512, 3);
  mixed.fill(0, 32, 64);
  for (let i = 300; i < 320; i++) mixed[i] *= 1e5;
  for (let i = 400; i < 420; i++) mixed[i] *= 1e-30;
  return [randomArray(1, 512), randomArray(2, 512, 100), ties, mixed, new Float32Array(512)];
}

describe('WASM activation rounding matches the reference bit for bit', () => {
  for (const [label, type] of [
    ['Q8_0 (Q4_0, Q5_0, Q8_0 weights)', GgmlType.Q8_0],
    ['Q8_K (K-quant weights)', GgmlType.Q4_K],
    ['f16', GgmlType.F16],
    ['bf16', GgmlType.BF16],
  ] as const) {
    it(label, () => {
      for (const x of rows()) {
        const want = roundActivations(type, x);
        const got = wasmRounded(type, x, 1, 512);
        expect(plain(got)).toEqual(plain(want));
      }
      // Several rows at once: each row keeps its own blocks.
      const many = new Float32Array(3 * 512);
      rows()
        .slice(0, 3)
        .forEach((r, i) => many.set(r, i * 512));
      const got = wasmRounded(type, many, 3, 512);
      for (let t = 0; t < 3; t++)
        expect(plain(got.subarray(t * 512, (t + 1) * 512))).toEqual(plain(roundActivations(type, many.subarray(t * 512, (t + 1) * 512))));
    });
  }

  it('Q8_K block sums are the sums of the quants of each 32 values', () => {
    const x = randomArray(4, 2 * 256, 7);
    const act = prepareActivations(k, GgmlType.Q6_K, x, 2, 256);
    const q = new Int16Array(k.heap.memory.buffer, act.x, 512);
    const sums = new Int32Array(k.heap.memory.buffer, act.sums, 16);
    for (let j = 0; j < 16; j++) expect(sums[j]).toBe(q.subarray(j * 32, (j + 1) * 32).reduce((a, b) => a + b, 0));
  });
});
