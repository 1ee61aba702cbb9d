import { describe, expect, it } from 'vitest';
import { KvCache } from './kv-cache.ts';
import { logSoftmax, topLogprobs } from './logprobs.ts';

const row = (v: number, n = 1, size = 4) => new Float32Array(n * size).fill(v);

describe('KV cache', () => {
  it('grows past its first allocation and keeps what it held', () => {
    const c = new KvCache(2, 4, 100, 'f32', 2);
    for (let pos = 0; pos < 5; pos++) {
      c.reserve(1);
      for (let l = 0; l < 2; l++) c.write(l, pos, row(pos + 1), row(-(pos + 1)), 1);
      c.commit(1);
    }
    expect(c.length).toBe(5);
    expect(c.capacity).toBeGreaterThanOrEqual(5);
    expect(Array.from(c.layers[1].k.subarray(0, 20))).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5]);
    expect(c.layers[0].v[16]).toBe(-5);
  });

  it('never grows past the context limit', () => {
    const c = new KvCache(1, 4, 6, 'f32', 4);
    c.reserve(6);
    expect(c.capacity).toBe(6);
    c.commit(6);
    expect(() => c.reserve(1)).toThrow(/context is full: 6 positions held, 1 more requested, the limit is 6/);
  });

  it('an f16 cache stores values rounded to half precision', () => {
    const c = new KvCache(1, 4, 8, 'f16');
    c.reserve(1);
    c.write(0, 0, row(1 / 3), row(1000.2), 1);
    expect(c.layers[0].k[0]).toBe(0.333251953125);
    expect(c.layers[0].v[0]).toBe(1000);
  });
});

describe('log-probabilities', () => {
  it('logSoftmax normalises and topLogprobs ranks, lower id first on ties', () => {
    const logits = Float32Array.from([1, 3, 3, -2, 0.5]);
    const lp = logSoftmax(logits);
    expect(lp.reduce((s, v) => s + Math.exp(v), 0)).toBeCloseTo(1, 12);
    expect(lp[1] - lp[0]).toBeCloseTo(2, 6);
    expect(topLogprobs(logits, 3).map((t) => t.id)).toEqual([1, 2, 0]);
    const slice = topLogprobs(logits, 2, 3, 2); // ids relative to the slice [-2, 0.5]
    expect(slice.map((t) => t.id)).toEqual([1, 0]);
    expect(slice[0].logprob).toBeCloseTo(0.5 - Math.log(Math.exp(-2) + Math.exp(0.5)), 6);
  });
});
