// The WASM backend as a whole: one factory, weights copied into WASM memory once, results unchanged
// when the memory grows under resident weights, and the light ops identical to the reference.
import { describe, expect, it } from 'vitest';
import { GgmlType } from '../../gguf/ggml-types.ts';
import { referenceKernels } from '../reference/index.ts';
import { quantizedWeight, randomArray } from '../testing/data.ts';
import { createWasmKernels } from './index.ts';

describe('createWasmKernels', () => {
  it('keeps one resident copy per weight, even through fresh views of the same bytes', async () => {
    const k = await createWasmKernels();
    const w = quantizedWeight('w', GgmlType.Q8_0, 64, 512, randomArray(1, 64 * 512));
    const x = randomArray(2, 512),
      out = new Float32Array(64);
    k.matmul(out, x, w, 1);
    const used = k.residentBytes;
    k.matmul(out, x, w, 1);
    k.matmul(out, x, { ...w, data: w.data.subarray(0) }, 1);
    expect(k.residentBytes).toBe(used);
    k.matmul(out, x, quantizedWeight('w2', GgmlType.Q8_0, 64, 512, randomArray(3, 64 * 512)), 1);
    expect(k.residentBytes).toBeGreaterThanOrEqual(used + w.data.byteLength);
  });

  it('stays correct when later allocations grow the memory under resident weights', async () => {
    const k = await createWasmKernels();
    const small = quantizedWeight('small', GgmlType.Q4_K, 8, 256, randomArray(4, 8 * 256));
    const x = randomArray(5, 256);
    const before = new Float32Array(8),
      after = new Float32Array(8),
      want = new Float32Array(8);
    k.matmul(before, x, small, 1);
    const big = quantizedWeight('big', GgmlType.F32, 2048, 1024, randomArray(6, 2048 * 1024)); // 8 MiB
    k.matmul(new Float32Array(2048), randomArray(7, 1024), big, 1);
    k.matmul(after, x, small, 1);
    referenceKernels.matmul(want, x, small, 1);
    expect(Array.from(after)).toEqual(Array.from(before));
    after.forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));
  });

  it('provides every op of the interface', async () => {
    const k = await createWasmKernels();
    expect(k.name).toBe('wasm');
    for (const op of Object.keys(referenceKernels)) expect(typeof (k as unknown as Record<string, unknown>)[op], op).not.toBe('undefined');
  });
});
