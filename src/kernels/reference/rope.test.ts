import { describe, expect, it } from 'vitest';
import type { RopeParams } from '../types.ts';
import { randomArray } from '../testing/data.ts';
import { rope, yarnCorrDims } from './rope.ts';

const plain: RopeParams = {
  mode: 'normal',
  nRot: 16,
  freqBase: 10000,
  freqScale: 1,
  extFactor: 0,
  attnFactor: 1,
  betaFast: 32,
  betaSlow: 1,
  nCtxOrig: 4096,
};

/** Rotates pair (a, b) of one head by `angle(i)` and magnitude `m`, straight from the definition. */
function expected(x: Float32Array, headDim: number, p: RopeParams, angle: (i: number) => number, m = 1): Float64Array {
  const out = Float64Array.from(x);
  for (let i = 0; i < p.nRot / 2; i++) {
    const [a, b] = p.mode === 'normal' ? [2 * i, 2 * i + 1] : [i, i + p.nRot / 2];
    const c = Math.cos(angle(i)) * m,
      s = Math.sin(angle(i)) * m;
    out[a] = x[a] * c - x[b] * s;
    out[b] = x[a] * s + x[b] * c;
  }
  return out.subarray(0, headDim);
}

function ropeOne(x: Float32Array, headDim: number, pos: number, p: RopeParams): Float32Array {
  const y = Float32Array.from(x);
  rope(y, 1, 1, headDim, Int32Array.from([pos]), p);
  return y;
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);

describe('reference rope', () => {
  for (const mode of ['normal', 'neox'] as const) {
    it(`${mode}: rotates pairs by pos * base^(-2i/nRot) and leaves dims past nRot alone`, () => {
      const p = { ...plain, mode };
      const headDim = 20; // 4 dims past nRot
      const x = randomArray(1, headDim);
      const pos = 37;
      const got = ropeOne(x, headDim, pos, p);
      const want = expected(x, headDim, p, (i) => pos * p.freqBase ** ((-2 * i) / p.nRot));
      got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));
      expect(Array.from(got.subarray(16))).toEqual(Array.from(x.subarray(16)));
    });

    it(`${mode}: q·k depends only on the distance between positions`, () => {
      const q = randomArray(2, 16),
        k = randomArray(3, 16);
      const p = { ...plain, mode };
      const a = dot(ropeOne(q, 16, 5, p), ropeOne(k, 16, 2, p));
      const b = dot(ropeOne(q, 16, 105, p), ropeOne(k, 16, 102, p));
      expect(a).toBeCloseTo(b, 3);
      expect(Array.from(ropeOne(q, 16, 0, p))).toEqual(Array.from(q));
    });
  }

  it('applies every head of every token at its own position', () => {
    const x = randomArray(4, 3 * 2 * 16);
    const y = Float32Array.from(x);
    rope(y, 3, 2, 16, Int32Array.from([4, 9, 1]), plain);
    [4, 9, 1].forEach((pos, t) => {
      for (let h = 0; h < 2; h++) {
        const o = (t * 2 + h) * 16;
        const one = ropeOne(x.subarray(o, o + 16), 16, pos, plain);
        expect(Array.from(y.subarray(o, o + 16))).toEqual(Array.from(one));
      }
    });
  });

  it('linear scaling: position 2p at freqScale 1/2 equals position p unscaled', () => {
    const x = randomArray(5, 16);
    const scaled = ropeOne(x, 16, 24, { ...plain, freqScale: 0.5 });
    const base = ropeOne(x, 16, 12, plain);
    scaled.forEach((v, i) => expect(v).toBeCloseTo(base[i], 5));
  });

  it('llama3 frequency factors divide the angle of their pair', () => {
    const freqFactors = Float32Array.from({ length: 8 }, (_, i) => 1 + i);
    const x = randomArray(6, 16);
    const got = ropeOne(x, 16, 11, { ...plain, freqFactors });
    const want = expected(x, 16, plain, (i) => (11 * plain.freqBase ** ((-2 * i) / 16)) / (1 + i));
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));
  });

  it('YaRN extrapolates the fast dims, interpolates the slow ones, and scales magnitude', () => {
    const p: RopeParams = { ...plain, nRot: 64, freqScale: 0.25, extFactor: 1 };
    const [low, high] = yarnCorrDims(64, 4096, 10000, 32, 1);
    expect([low, high]).toEqual([10, 23]);
    const x = randomArray(7, 64);
    const pos = 300;
    const got = ropeOne(x, 64, pos, p);
    const m = 1 + 0.1 * Math.log(4);
    const theta = (i: number) => pos * 10000 ** ((-2 * i) / 64);
    const extrap = expected(x, 64, p, theta, m);
    const interp = expected(x, 64, p, (i) => theta(i) * 0.25, m);
    for (let i = 0; i < 32; i++) {
      const [a, b] = [2 * i, 2 * i + 1];
      if (i <= low) {
        expect(got[a]).toBeCloseTo(extrap[a], 3);
        expect(got[b]).toBeCloseTo(extrap[b], 3);
      }
      if (i >= high) {
        expect(got[a]).toBeCloseTo(interp[a], 3);
        expect(got[b]).toBeCloseTo(interp[b], 3);
      }
    }
  });
});
