import { describe, expect, it } from 'vitest';
import { randomArray } from '../testing/data.ts';
import { add, addBias, softmax, swiglu } from './elementwise.ts';
import { rmsnorm } from './rmsnorm.ts';

describe('reference elementwise ops', () => {
  it('softmax matches exp(x)/Σexp(x) and survives large logits', () => {
    const x = Float32Array.from([1, 2, 3, 1000, 1001]);
    softmax(x, 3, 2); // only the slice
    expect(x[0]).toBe(1);
    expect(x[3]).toBeCloseTo(1 / (1 + Math.E), 6);
    expect(x[4]).toBeCloseTo(Math.E / (1 + Math.E), 6);
    const y = randomArray(1, 9, 5);
    const want = Array.from(y, Math.exp);
    const z = want.reduce((a, b) => a + b);
    softmax(y, 0, 9);
    y.forEach((v, i) => expect(v).toBeCloseTo(want[i] / z, 6));
  });

  it('swiglu is silu(gate) * up', () => {
    const g = randomArray(2, 16, 6),
      u = randomArray(3, 16);
    const out = new Float32Array(16);
    swiglu(out, g, u, 16);
    out.forEach((v, i) => expect(v).toBeCloseTo((g[i] / (1 + Math.exp(-g[i]))) * u[i], 6));
  });

  it('add and addBias', () => {
    const a = randomArray(4, 6),
      b = randomArray(5, 6);
    const out = new Float32Array(6);
    add(out, a, b, 6);
    out.forEach((v, i) => expect(v).toBeCloseTo(a[i] + b[i], 6));
    const x = new Float32Array(6);
    addBias(x, Float32Array.from([1, 2, 3]), 2, 3);
    expect(Array.from(x)).toEqual([1, 2, 3, 1, 2, 3]);
  });
});

describe('reference rmsnorm', () => {
  it('scales each row to unit RMS, then by the weight', () => {
    const rows = 3,
      dim = 10,
      eps = 1e-5;
    const x = randomArray(6, rows * dim, 3),
      w = randomArray(7, dim);
    const out = new Float32Array(rows * dim);
    rmsnorm(out, x, w, rows, dim, eps);
    for (let r = 0; r < rows; r++) {
      let ss = 0;
      for (let i = 0; i < dim; i++) ss += x[r * dim + i] ** 2;
      const s = 1 / Math.sqrt(ss / dim + eps);
      for (let i = 0; i < dim; i++) expect(out[r * dim + i]).toBeCloseTo(x[r * dim + i] * s * w[i], 5);
    }
    const plain = new Float32Array(rows * dim);
    rmsnorm(plain, x, null, rows, dim, eps);
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += plain[i] ** 2;
    expect(Math.sqrt(ss / dim)).toBeCloseTo(1, 4);
  });

  it('uses eps, so an all-zero row stays zero instead of NaN', () => {
    const out = new Float32Array(4);
    rmsnorm(out, new Float32Array(4), null, 1, 4, 1e-6);
    expect(Array.from(out)).toEqual([0, 0, 0, 0]);
  });
});
