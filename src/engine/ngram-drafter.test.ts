// Prompt lookup: the longest suffix first, the most recent occurrence, a cycle read on into its own copy.
import { describe, expect, it } from 'vitest';
import { lookup, NgramDrafter } from './ngram-drafter.ts';

describe('n-gram drafter', () => {
  it('proposes what followed the most recent earlier occurrence of the suffix', () => {
    // suffix [1, 2] occurs at 0 (then 3) and at 4 (then 9): the nearer one wins
    expect(lookup([1, 2, 3, 7, 1, 2, 9, 5, 1, 2], 2, 2, 4)).toEqual([9, 5]);
  });

  it('prefers a longer suffix over a nearer shorter one', () => {
    // [8, 1, 2] matches at 0 (then 3); [1, 2] alone would match at 5 (then 6)
    expect(lookup([8, 1, 2, 3, 4, 1, 2, 6, 8, 1, 2], 1, 2, 4)).toEqual([3]);
  });

  it('continues a cycle past the end of the context', () => {
    expect(lookup([5, 1, 2, 3, 1, 2, 3, 1, 2], 7, 2, 4)).toEqual([3, 1, 2, 3, 1, 2, 3]);
  });

  it('proposes nothing without a match of minNgram tokens, or when asked for none', async () => {
    expect(lookup([1, 2, 3, 4, 5, 6], 4, 2, 4)).toEqual([]);
    expect(lookup([1, 2, 1, 2], 0, 2, 4)).toEqual([]);
    expect(lookup([7, 9, 7], 2, 2, 4)).toEqual([]);
    expect(lookup([7, 9, 7], 2, 1, 4)).toEqual([9, 7]);
    expect((await new NgramDrafter({ minNgram: 1 }).draft([4, 4], 3)).tokens).toEqual([4, 4, 4]);
    expect(() => new NgramDrafter({ minNgram: 3, maxNgram: 2 })).toThrow(/minNgram <= maxNgram/);
  });
});
