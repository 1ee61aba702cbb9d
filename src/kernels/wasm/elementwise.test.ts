// SwiGLU on the WASM kernels computes silu in double and rounds it once to f32, as the reference does:
// bit for bit equal to it over the whole range. A few ulp is not close enough: an activation one ulp
// off flips int8 roundings downstream (on qwen2.5-0.5b-shape-q4_k_m, by 0.2 in log-prob; README, Tests).
import { beforeAll, describe, expect, it } from 'vitest';
import { referenceKernels } from '../reference/index.ts';
import { randomArray } from '../testing/data.ts';
import { createWasmKernels, type WasmKernels } from './index.ts';

let k: WasmKernels;
beforeAll(async () => {
  k = await createWasmKernels();
});

describe('wasm swiglu', () => {
  it('equals the reference bit for bit, from tiny to saturated gates, odd lengths included', () => {
    const special = [
      0, -0, 1e-30, -1e-30, 1e-40, -1e-40, 1e-3, -1e-3, 0.5, -0.5, 1, -1, 5, -5, 20, -20, 87, -87, 88.5, -88.5, 100, -100, 700, -700, 1e4, -1e4, 3e38, -3e38,
    ];
    const len = 100_003;
    const gate = randomArray(7, len, 12);
    gate.set(special);
    const up = randomArray(8, len, 3);
    const want = new Float32Array(len),
      got = new Float32Array(len);
    referenceKernels.swiglu(want, gate, up, len);
    k.swiglu(got, gate, up, len);
    let differing = 0;
    let first = '';
    for (let i = 0; i < len; i++) {
      if (Object.is(got[i], want[i])) continue;
      if (!differing++) first = `value ${i}: gate ${gate[i]}, up ${up[i]}: got ${got[i]}, want ${want[i]}`;
    }
    expect(differing, first).toBe(0);
  });

  it('works in place and refuses buffers shorter than the length', () => {
    const gate = Float32Array.from([1, -2, 3]),
      up = Float32Array.from([2, 2, 2]);
    const want = new Float32Array(3);
    referenceKernels.swiglu(want, gate, up, 3);
    k.swiglu(gate, gate, up, 3);
    for (let i = 0; i < 3; i++) expect(gate[i]).toBeCloseTo(want[i], 6);
    expect(() => k.swiglu(new Float32Array(2), gate, up, 3)).toThrow(/swiglu over 3 values/);
  });
});
