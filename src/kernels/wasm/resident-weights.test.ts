// Weights read straight into WASM memory (the kernels' weightHome): the sealed matrix computes what
// the same bytes held in JavaScript compute, its data view survives the memory growing, and bad
// writes and corrupt scales fail with the kernel's error codes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GgmlType } from '../../gguf/ggml-types.ts';
import { quantizedWeight, randomArray } from '../testing/data.ts';
import type { WeightMatrix } from '../types.ts';
import { createWasmKernels, type WasmKernels } from './index.ts';

let wasm: WasmKernels;
beforeAll(async () => {
  wasm = await createWasmKernels();
});
afterAll(() => wasm.dispose());

function placed(w: WeightMatrix, chunk: number): WeightMatrix {
  const slot = wasm.weightHome!.reserve({ name: w.name, type: w.type, rows: w.rows, cols: w.cols }, w.data.byteLength);
  for (let off = 0; off < w.data.byteLength; off += chunk) slot.write(w.data.subarray(off, off + chunk), off);
  return slot.seal();
}

describe('WASM weight home', () => {
  it('computes, from bytes written in chunks, what the same weight in JavaScript computes, and its view survives growth', () => {
    const rows = 48,
      cols = 256;
    const js = quantizedWeight('w', GgmlType.Q4_K, rows, cols, randomArray(1, rows * cols));
    const home = placed(js, 1000);
    expect(home.data).toEqual(js.data);
    const x = randomArray(2, 2 * cols);
    const a = new Float32Array(2 * rows);
    const b = new Float32Array(2 * rows);
    wasm.matmul(a, x, js, 2);
    wasm.matmul(b, x, home, 2);
    expect(b).toEqual(a);
    const before = wasm.residentBytes;
    placed(quantizedWeight('big', GgmlType.F32, 64, 1 << 16, new Float32Array(1 << 22)), 1 << 20); // 16 MiB: the memory grows
    expect(wasm.residentBytes).toBeGreaterThan(before);
    expect(home.data).toEqual(js.data);
    wasm.matmul(b.fill(0), x, home, 2);
    expect(b).toEqual(a);
  });

  it('refuses a write outside the weight and a corrupt block scale, leaving the room reusable', () => {
    const w = quantizedWeight('q', GgmlType.Q8_0, 4, 64, randomArray(3, 256));
    const shape = { name: 'q', type: w.type, rows: 4, cols: 64 };
    const slot = wasm.weightHome!.reserve(shape, w.data.byteLength);
    expect(() => slot.write(w.data, 1)).toThrow(expect.objectContaining({ code: 'kernel_bad_weight' }));
    const bad = w.data.slice();
    bad[1] = 0x7c; // block 0's fp16 scale becomes infinite
    slot.write(bad, 0);
    expect(() => slot.seal()).toThrow(expect.objectContaining({ code: 'kernel_bad_weight' }));
    slot.abandon();
    expect(placed(w, 64).data).toEqual(w.data);
  });
});
