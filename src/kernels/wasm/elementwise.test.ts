// SwiGLU on the WASM kernels computes in f32 with a polynomial e^x, as ggml's vectorised CPU path
// does: it must stay within a few ulp of the reference's double-precision silu, over the whole range.
import { beforeAll, describe, expect, it } from 'vitest';
import { referenceKernels } from '../reference/index.ts';
import { randomArray } from '../testing/data.ts';
import { createWasmKernels, type WasmKernels } from './index.ts';

let k: WasmKernels;
beforeAll(async () => {
  k = await createWasmKernels();
});

describe('wasm swiglu', () => {
  it('matches the reference within 4e-7 relative (1e-30 absolute), from tiny to saturated gates, odd lengths included', () => {
    const special = [0, -0, 1e-30, -1e-30, 1e-3, -1e-3, 0.5, -0.5, 1, -1, 5, -5, 20, -20, 87, -87, 88.5, -88.5, 100, -100, 1e4, -1e4];
    const len = 1029;
    const gate = randomArray(7, len, 12);
    gate.set(special);
    const up = randomArray(8, len, 3);
    const want = new Float32Array(len),
      got = new Float32Array(len);
    referenceKernels.swiglu(want, gate, up, len);
    k.swiglu(got, gate, up, len);
    for (let i = 0; i < len; i++) {
      const tol = 4e-7 * Math.abs(want[i]) + 1e-30; // below e^-87 the exp saturates: silu(g) is then ~0 either way
      if (!(Math.abs(got[i] - want[i]) <= tol)) expect.fail(`value ${i}: gate ${gate[i]}, up ${up[i]}: got ${got[i]}, want ${want[i]}`);
    }
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
