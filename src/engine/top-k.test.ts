import { describe, expect, it } from 'vitest';
import { Prng } from './prng.ts';
import { argmax, topKIndices } from './top-k.ts';

describe('partial top-k selection', () => {
  it('agrees with a full sort on random rows, ties to the lower index', () => {
    const rng = new Prng(7);
    for (let trial = 0; trial < 50; trial++) {
      const n = 1 + (rng.nextU32() % 300);
      // Few distinct values so ties are common.
      const x = Float32Array.from({ length: n }, () => (rng.nextU32() % 20) - 10);
      const k = rng.nextU32() % (n + 3);
      const want = Array.from(x.keys())
        .sort((a, b) => x[b] - x[a] || a - b)
        .slice(0, k);
      expect(topKIndices(x, k)).toEqual(want);
    }
  });

  it('works on a window of a larger array and ranks NaN last', () => {
    const x = Float32Array.from([9, 9, 1, NaN, 3, 2, 9]);
    expect(topKIndices(x, 3, 2, 4)).toEqual([2, 3, 0]);
    expect(argmax(x, 2, 4)).toBe(2);
    expect(argmax(Float32Array.from([1, 5, 5]))).toBe(1);
  });
});

describe('seeded PRNG', () => {
  it('repeats per seed, differs across seeds, and is roughly uniform', () => {
    const a = new Prng(42),
      b = new Prng(42),
      c = new Prng(43);
    const sa = Array.from({ length: 8 }, () => a.nextU32());
    expect(Array.from({ length: 8 }, () => b.nextU32())).toEqual(sa);
    expect(Array.from({ length: 8 }, () => c.nextU32())).not.toEqual(sa);
    const buckets = new Array(10).fill(0);
    const r = new Prng(1);
    for (let i = 0; i < 20000; i++) {
      const u = r.nextFloat();
      expect(u >= 0 && u < 1).toBe(true);
      buckets[Math.floor(u * 10)]++;
    }
    for (const n of buckets) expect(Math.abs(n - 2000)).toBeLessThan(200);
  });
});
