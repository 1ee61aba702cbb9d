import { describe, expect, it } from 'vitest';
import { GgmlType } from '../../gguf/ggml-types.ts';
import { bf16ToFp32, fp16ToFp32, fp32ToBf16, fp32ToFp16 } from '../../gguf/quant/half.ts';
import { randomArray } from '../testing/data.ts';
import { roundActivations, vecDotType } from './activation-rounding.ts';

/** Checks every value is d·q for one scale d per block and integers |q| <= 127, the largest hitting 127. */
function expectInt8Blocks(x: Float32Array, y: Float32Array, block: number): void {
  for (let b = 0; b < x.length; b += block) {
    let amaxAt = b;
    for (let j = b; j < b + block; j++) if (Math.abs(x[j]) > Math.abs(x[amaxAt])) amaxAt = j;
    const d = Math.abs(y[amaxAt]) / 127;
    for (let j = b; j < b + block; j++) {
      const q = y[j] / d;
      expect(Math.abs(q - Math.round(q))).toBeLessThan(1e-3);
      expect(Math.abs(q)).toBeLessThanOrEqual(127.001);
      expect(Math.abs(y[j] - x[j])).toBeLessThanOrEqual(d * 0.51 + 1e-3 * d); // within half a step (+ fp16 d)
    }
  }
}

describe('activation rounding (ggml vec_dot_type)', () => {
  it('maps each weight type to the type ggml converts activations to', () => {
    expect(vecDotType(GgmlType.F32)).toBe(GgmlType.F32);
    expect(vecDotType(GgmlType.F16)).toBe(GgmlType.F16);
    expect(vecDotType(GgmlType.BF16)).toBe(GgmlType.BF16);
    for (const t of [GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q8_0]) expect(vecDotType(t)).toBe(GgmlType.Q8_0);
    for (const t of [GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K]) expect(vecDotType(t)).toBe(GgmlType.Q8_K);
    expect(() => vecDotType(GgmlType.Q2_K)).toThrow(/no matmul for Q2_K/);
  });

  it('F32 is untouched; F16 and BF16 round each value', () => {
    const x = randomArray(1, 64, 3);
    expect(roundActivations(GgmlType.F32, x)).toBe(x);
    expect(Array.from(roundActivations(GgmlType.F16, x))).toEqual(Array.from(x, (v) => fp16ToFp32(fp32ToFp16(v))));
    expect(Array.from(roundActivations(GgmlType.BF16, x))).toEqual(Array.from(x, (v) => bf16ToFp32(fp32ToBf16(v))));
  });

  it('Q8_0: blocks of 32 become int8 multiples of one scale', () => {
    const x = randomArray(2, 128, 5);
    expectInt8Blocks(x, roundActivations(GgmlType.Q8_0, x), 32);
  });

  it('Q8_K: blocks of 256 become int8 multiples of one scale; an all-zero block stays zero', () => {
    const x = randomArray(3, 512, 5);
    x.fill(0, 256);
    const y = roundActivations(GgmlType.Q6_K, x);
    expectInt8Blocks(x.subarray(0, 256), y.subarray(0, 256), 256);
    expect(Array.from(y.subarray(256)).every((v) => v === 0)).toBe(true);
  });

  it('ties round half to even, as ggml does on x86', () => {
    // amax 127 gives id = 1, so x*id lands exactly on .5 ties.
    const x = new Float32Array(32).fill(0);
    x[0] = 127;
    x[1] = 2.5;
    x[2] = -2.5;
    x[3] = 3.5;
    x[4] = 0.5;
    const y = roundActivations(GgmlType.Q8_0, x);
    expect(Array.from(y.subarray(0, 5))).toEqual([127, 2, -2, 4, 0]);
  });
});
