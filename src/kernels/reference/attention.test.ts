import { describe, expect, it } from 'vitest';
import type { AttentionShape } from '../types.ts';
import { randomArray } from '../testing/data.ts';
import { attention } from './attention.ts';

/** Attention for one query row against rows 0..upto of K/V, with GQA head h → h / group. */
function naive(q: Float32Array, k: Float32Array, v: Float32Array, s: AttentionShape, t: number, pos: number): Float64Array {
  const out = new Float64Array(s.nHead * s.headDim);
  for (let h = 0; h < s.nHead; h++) {
    const kh = Math.floor(h / (s.nHead / s.nHeadKv));
    const logits: number[] = [];
    for (let j = 0; j <= pos; j++) {
      let d = 0;
      for (let i = 0; i < s.headDim; i++) d += q[(t * s.nHead + h) * s.headDim + i] * k[(j * s.nHeadKv + kh) * s.headDim + i];
      logits.push(d * s.scale);
    }
    const m = Math.max(...logits);
    const w = logits.map((l) => Math.exp(l - m));
    const z = w.reduce((a, b) => a + b);
    for (let j = 0; j <= pos; j++) {
      for (let i = 0; i < s.headDim; i++) out[h * s.headDim + i] += (w[j] / z) * v[(j * s.nHeadKv + kh) * s.headDim + i];
    }
  }
  return out;
}

const shape: AttentionShape = { nHead: 4, nHeadKv: 2, headDim: 8, scale: 1 / Math.sqrt(8) };
const row = shape.nHead * shape.headDim,
  kvRow = shape.nHeadKv * shape.headDim;

describe('reference attention', () => {
  it('matches softmax(q·k * scale)·v with the causal mask and grouped KV heads', () => {
    const first = 3,
      n = 4;
    const q = randomArray(1, n * row, 2),
      k = randomArray(2, (first + n) * kvRow, 2),
      v = randomArray(3, (first + n) * kvRow);
    const out = new Float32Array(n * row);
    attention(out, q, k, v, n, first, shape);
    for (let t = 0; t < n; t++) {
      const want = naive(q, k, v, shape, t, first + t);
      for (let i = 0; i < row; i++) expect(out[t * row + i]).toBeCloseTo(want[i], 5);
    }
  });

  it('never looks at positions after the query', () => {
    const n = 5;
    const q = randomArray(4, n * row),
      k = randomArray(5, n * kvRow),
      v = randomArray(6, n * kvRow);
    const a = new Float32Array(n * row),
      b = new Float32Array(n * row);
    attention(a, q, k, v, n, 0, shape);
    k.fill(9, 3 * kvRow);
    v.fill(-9, 3 * kvRow); // change positions 3 and 4 only
    attention(b, q, k, v, n, 0, shape);
    expect(Array.from(b.subarray(0, 3 * row))).toEqual(Array.from(a.subarray(0, 3 * row)));
    expect(b[3 * row]).not.toBe(a[3 * row]);
  });

  it('the first position attends only to itself: the output is its own v', () => {
    const q = randomArray(7, row),
      k = randomArray(8, kvRow),
      v = randomArray(9, kvRow);
    const out = new Float32Array(row);
    attention(out, q, k, v, 1, 0, shape);
    for (let h = 0; h < shape.nHead; h++) {
      const kh = Math.floor(h / 2);
      for (let i = 0; i < shape.headDim; i++) expect(out[h * shape.headDim + i]).toBeCloseTo(v[kh * shape.headDim + i], 6);
    }
  });
});
