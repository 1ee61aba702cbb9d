import { describe, expect, it } from 'vitest';
import { denseLogits, logSumExp, topKLogprobs } from './log-softmax.ts';

describe('logSumExp', () => {
  it('matches the naive formula where it does not overflow', () => {
    const logits = [0.5, -1.25, 3, 2.75, -7];
    const naive = Math.log(logits.reduce((s, x) => s + Math.exp(x), 0));
    expect(logSumExp(logits)).toBeCloseTo(naive, 14);
  });

  it('stays finite for logits that overflow exp()', () => {
    const lse = logSumExp([1000, 1000]);
    expect(lse).toBeCloseTo(1000 + Math.LN2, 10);
  });
});

describe('topKLogprobs', () => {
  it('returns the k largest, highest first, as log-probabilities that exponentiate to probabilities', () => {
    const logits = new Float64Array([0.1, 2, -3, 5, 4.5, 2]);
    const top = topKLogprobs(logits, 3);
    expect(top.map((t) => t.id)).toEqual([3, 4, 1]); // 1 and 5 tie at 2: the lower id wins
    const z = Array.from(logits).reduce((s, x) => s + Math.exp(x), 0);
    for (const t of top) expect(Math.exp(t.logprob)).toBeCloseTo(Math.exp(logits[t.id]) / z, 14);
  });

  it('log-probabilities of the whole vocabulary sum to one', () => {
    const logits = Array.from({ length: 1000 }, (_, i) => Math.sin(i * 12.9898) * 10);
    const all = topKLogprobs(logits, logits.length);
    expect(all.reduce((s, t) => s + Math.exp(t.logprob), 0)).toBeCloseTo(1, 12);
    for (let i = 1; i < all.length; i++) expect(all[i - 1].logprob).toBeGreaterThanOrEqual(all[i].logprob);
  });

  it('keeps the greedy tie rule when the tie sits at the cut', () => {
    expect(topKLogprobs([1, 7, 7, 7], 2).map((t) => t.id)).toEqual([1, 2]);
  });
});

describe('denseLogits', () => {
  it('places each logit at its token id', () => {
    const dense = denseLogits(
      new Map([
        [2, 0.5],
        [0, -1],
        [1, 3],
      ]),
      3,
    );
    expect(Array.from(dense)).toEqual([-1, 3, 0.5]);
  });
});
