import { describe, expect, it } from 'vitest';
import { GgmlType } from '../../gguf/ggml-types.ts';
import { f32Bits } from '../../gguf/quant/half.ts';
import { randomArray } from './data.ts';
import { roundActivations } from '../reference/activation-rounding.ts';
import { FlipProbe, lastBitFlips, stepFloat32 } from './flip-probe.ts';
import { referenceKernels } from '../reference/index.ts';

/** A Q8_0 block whose largest value is 127 (so id = 1, d = 1) and the rest chosen by the caller. */
function block(values: Record<number, number>): Float32Array {
  const x = new Float32Array(32).fill(0.25);
  x[0] = 127;
  for (const [i, v] of Object.entries(values)) x[Number(i)] = v;
  return x;
}

describe('last-bit flip probe', () => {
  it('steps through adjacent f32 values in both directions and across zero', () => {
    expect(f32Bits(stepFloat32(1, 1)) - f32Bits(1)).toBe(1);
    expect(stepFloat32(stepFloat32(-3.5, 2), -2)).toBe(-3.5);
    expect(stepFloat32(-1, 1)).toBeGreaterThan(-1);
    expect(stepFloat32(0, 1)).toBeGreaterThan(0);
    expect(stepFloat32(0, -1)).toBeLessThan(0);
  });

  it('finds an int8 value one ulp from a half-step and ignores values far from one', () => {
    const x = block({ 3: stepFloat32(10.5, 1), 4: 10.3 });
    const flips = lastBitFlips(GgmlType.Q8_0, x, 4);
    // Element 0 too: as the block's largest value it sets id = 127/amax, which moves element 3 across.
    expect(flips.map((f) => f.index)).toEqual([0, 3]);
    const flip = flips[1];
    expect(flip.ulps).toBe(-1);
    // The flipped value rounds to the other integer: 10 (ties to even) instead of 11.
    expect(roundActivations(GgmlType.Q8_0, x)[3]).toBe(11);
    const moved = x.slice();
    moved[3] = flip.value;
    expect(roundActivations(GgmlType.Q8_0, moved)[3]).toBe(10);
  });

  it('finds the largest value when it sits on an fp16 tie of the block scale', () => {
    // amax/127 = 1 + 2^-11 is halfway between two fp16 values: one ulp up rounds the scale up.
    const amax = Math.fround(127 * (1 + 2 ** -11));
    const x = block({ 0: amax });
    const flips = lastBitFlips(GgmlType.Q8_0, x, 2);
    expect(flips.some((f) => f.index === 0)).toBe(true);
  });

  it('probes Q8_K rows, and nothing for float activation types', () => {
    const x = randomArray(7, 512, 3);
    expect(lastBitFlips(GgmlType.F32, x, 4)).toEqual([]);
    expect(lastBitFlips(GgmlType.F16, x, 4)).toEqual([]);
    const flips = lastBitFlips(GgmlType.Q4_K, x, 64);
    expect(flips.length).toBeGreaterThan(0);
    for (const f of flips) {
      const moved = x.slice();
      moved[f.index] = f.value;
      expect(roundActivations(GgmlType.Q4_K, moved)).not.toEqual(roundActivations(GgmlType.Q4_K, x));
    }
  });

  it('records flips during a matmul and replays one as a nudge', () => {
    const probe = new FlipProbe(referenceKernels);
    const w = { name: 'w', type: GgmlType.F32, rows: 1, cols: 32, data: new Uint8Array(new Float32Array(32).fill(1).buffer) };
    const out = new Float32Array(2);
    const x = new Float32Array(64).fill(1);
    probe.probe = { token: 1, maxUlps: 4 };
    probe.kernels.matmul(out, x, w, 2);
    expect(out).toEqual(new Float32Array([32, 32]));
    expect(probe.found).toEqual([]); // F32 weights: nothing to flip
    probe.reset();
    probe.nudge = { call: 0, token: 1, index: 5, ulps: 1, value: 3, weight: 'w' };
    probe.kernels.matmul(out, x, w, 2);
    expect(out).toEqual(new Float32Array([32, 34]));
    expect(x[37]).toBe(1); // the caller's activations are left alone
  });
});
