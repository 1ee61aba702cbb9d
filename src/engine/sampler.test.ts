import { describe, expect, it } from 'vitest';
import { Sampler, type SamplingOptions } from './sampler.ts';

const logitsOf = (probs: number[]) => Float32Array.from(probs, Math.log);

/** Frequencies of each token over `draws` samples. */
function histogram(o: SamplingOptions, logits: Float32Array, draws = 20000): number[] {
  const s = new Sampler({ seed: 123, ...o });
  const h = new Array(logits.length).fill(0);
  for (let i = 0; i < draws; i++) h[s.sample(logits)]++;
  return h.map((c) => c / draws);
}

function expectFreqs(got: number[], want: number[], tol = 0.015): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i]), `token ${i}: ${g} vs ${want[i]}`).toBeLessThan(tol));
}

const P = [0.5, 0.3, 0.15, 0.05];

describe('sampler', () => {
  it('greedy takes the argmax, the lowest id on ties, and leaves the logits alone', () => {
    const s = new Sampler({ temperature: 0 });
    const l = Float32Array.from([1, 3, 3, -2]);
    expect(s.sample(l)).toBe(1);
    expect(s.sample(Float32Array.from([0, 9, 0, 10, 0]), 1, 3)).toBe(2); // a window: ids are relative
    expect(Array.from(l)).toEqual([1, 3, 3, -2]);
  });

  it('temperature 1 draws from the softmax; lower temperature sharpens it as p^(1/T)', () => {
    expectFreqs(histogram({}, logitsOf(P)), P);
    const sq = P.map((p) => p * p),
      z = sq.reduce((a, b) => a + b);
    expectFreqs(
      histogram({ temperature: 0.5 }, logitsOf(P)),
      sq.map((p) => p / z),
    );
  });

  it('the same seed gives the same draws, another seed other draws', () => {
    const l = logitsOf(Array.from({ length: 50 }, () => 1 / 50));
    const seq = (seed: number) => {
      const s = new Sampler({ seed });
      return Array.from({ length: 30 }, () => s.sample(l));
    };
    expect(seq(5)).toEqual(seq(5));
    expect(seq(5)).not.toEqual(seq(6));
    expect(new Sampler({ seed: 5 }).seed).toBe(5);
  });

  it('top-k keeps the k most likely, renormalised', () => {
    expectFreqs(histogram({ topK: 2 }, logitsOf(P)), [0.625, 0.375, 0, 0]);
    expectFreqs(histogram({ topK: 10 }, logitsOf(P)), P); // k beyond the vocabulary keeps all
  });

  it('top-p keeps the smallest head reaching p, the crossing token included', () => {
    expectFreqs(histogram({ topP: 0.75 }, logitsOf(P)), [0.625, 0.375, 0, 0]);
    expectFreqs(
      histogram({ topP: 0.85 }, logitsOf(P)),
      [0.5, 0.3, 0.15, 0].map((p) => p / 0.95),
    );
    // On a wide flat vocabulary the nucleus outgrows the first partial selection (64): 200 of 400 kept, lowest ids on ties.
    const h = histogram({ topP: 0.5 }, new Float32Array(400), 1500);
    expect(h.slice(200).every((f) => f === 0)).toBe(true);
    expect(h.slice(0, 200).filter((f) => f > 0).length).toBeGreaterThan(190);
  });

  it('min-p drops tokens under minP times the best, with or without top-k', () => {
    const want = [0.5, 0.3, 0.15, 0].map((p) => p / 0.95);
    expectFreqs(histogram({ minP: 0.2 }, logitsOf(P)), want);
    expectFreqs(histogram({ minP: 0.2, topK: 3 }, logitsOf(P)), want);
    expectFreqs(histogram({ minP: 0.7 }, logitsOf(P)), [1, 0, 0, 0]);
  });

  it('repeat penalty divides positive and multiplies negative logits of seen tokens (llama.cpp)', () => {
    const l = Float32Array.from([2, 1.9, -1, -1.2]);
    const s = new Sampler({ temperature: 0, repeatPenalty: 1.5 });
    expect(s.sample(l)).toBe(0);
    s.accept(0);
    expect(s.sample(l)).toBe(1); // 2/1.5 < 1.9
    const neg = new Sampler({ temperature: 0, repeatPenalty: 1.5 });
    neg.accept(0);
    neg.accept(1);
    expect(neg.sample(Float32Array.from([-1, -1.2, -1.4]))).toBe(2); // -1.5 and -1.8 fall below -1.4
  });

  it('frequency penalty counts occurrences, presence penalty does not', () => {
    const l = Float32Array.from([2, 1.9]);
    const freq = new Sampler({ temperature: 0, frequencyPenalty: 0.06 });
    freq.accept(0);
    expect(freq.sample(l)).toBe(0); // 2 - 0.06
    freq.accept(0);
    expect(freq.sample(l)).toBe(1); // 2 - 0.12
    const pres = new Sampler({ temperature: 0, presencePenalty: 0.15 });
    pres.accept(1);
    pres.accept(1);
    pres.accept(0);
    expect(pres.sample(l)).toBe(0); // 1.85 vs 1.75: each seen token loses 0.15 once
  });

  it('penalties only look at the last n tokens', () => {
    const l = Float32Array.from([2, 1.9, 0, 0]);
    const s = new Sampler({ temperature: 0, repeatPenalty: 2, penaltyLastN: 2 });
    s.accept(0);
    expect(s.sample(l)).toBe(1);
    s.accept(2);
    s.accept(3); // 0 left the window
    expect(s.sample(l)).toBe(0);
    const off = new Sampler({ temperature: 0, repeatPenalty: 2, penaltyLastN: 0 });
    off.accept(0);
    expect(off.sample(l)).toBe(0);
  });

  it('refuses nonsense options with a clear error', () => {
    expect(() => new Sampler({ topP: 0 })).toThrow(/topP must be in \(0, 1\]/);
    expect(() => new Sampler({ topK: 1.5 })).toThrow(/topK/);
    expect(() => new Sampler({ minP: 2 })).toThrow(/minP/);
    expect(() => new Sampler({ repeatPenalty: 0 })).toThrow(/repeatPenalty/);
    expect(() => new Sampler({ temperature: NaN })).toThrow(/temperature/);
  });

  it('costs little per token on a 150k vocabulary with top-k', () => {
    const l = Float32Array.from({ length: 151936 }, (_, i) => Math.sin(i * 12.9898) * 10);
    const s = new Sampler({ seed: 1, topK: 40, topP: 0.95, minP: 0.05, temperature: 0.8, repeatPenalty: 1.1 });
    for (let i = 0; i < 64; i++) s.accept(i * 97);
    s.sample(l);
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) s.sample(l);
    expect((performance.now() - t0) / 20).toBeLessThan(25);
  });
});
