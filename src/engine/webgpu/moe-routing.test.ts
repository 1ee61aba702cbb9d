import { describe, expect, it } from 'vitest';
import { packRouting, routeTokens, sharedExpertWeights } from './moe-routing.ts';

describe('MoE routing on the host', () => {
  it('picks the most probable experts per token, ties to the lower index, grouped slot by slot', () => {
    // Token 0 prefers 2 then 0; token 1 ties experts 1 and 3 (the lower index wins slot 0).
    const logits = Float32Array.of(1, 0, 3, -1, /* token 1 */ 0, 2, -5, 2);
    const groups = routeTokens(logits, 2, { nExpert: 4, nExpertUsed: 2, expertWeightsNorm: true });
    expect(groups.map((g) => [g.slot, g.expert, g.tokens])).toEqual([
      [0, 1, [1]],
      [0, 2, [0]],
      [1, 0, [0]],
      [1, 3, [1]],
    ]);
    // Renormalised: each token's weights sum to 1 (to f32 rounding); the tie splits evenly.
    const w = (slot: number, expert: number) => groups.find((g) => g.slot === slot && g.expert === expert)!.weights[0];
    expect(w(0, 2) + w(1, 0)).toBeCloseTo(1, 6);
    expect(w(0, 2) / w(1, 0)).toBeCloseTo(Math.exp(2), 5);
    expect(w(0, 1)).toBeCloseTo(0.5, 6);
    expect(w(1, 3)).toBeCloseTo(0.5, 6);
  });

  it('keeps the softmax probabilities when the architecture does not renormalise (qwen2moe)', () => {
    const logits = Float32Array.of(0, Math.log(3), -100);
    const [first, second] = routeTokens(logits, 1, { nExpert: 3, nExpertUsed: 2, expertWeightsNorm: false });
    expect([first.expert, second.expert]).toEqual([1, 0]);
    expect(first.weights[0]).toBeCloseTo(0.75, 6);
    expect(second.weights[0]).toBeCloseTo(0.25, 6);
  });

  it('scales the shared expert by sigmoid(g) and packs indices and weights for the GPU', () => {
    const s = sharedExpertWeights(Float32Array.of(0.5, -2), 2);
    expect(s[0]).toBeCloseTo(1 / (1 + Math.exp(-0.5)), 6);
    expect(s[1]).toBeCloseTo(1 / (1 + Math.exp(2)), 6);
    const { data, offsets } = packRouting([
      { tokens: [3, 5], weights: [0.25, 0.5] },
      { tokens: [1], weights: [2] },
    ]);
    const idx = new Uint32Array(data.buffer);
    expect(offsets).toEqual([
      { idx: 0, w: 3 },
      { idx: 2, w: 5 },
    ]);
    expect([...idx.subarray(0, 3)]).toEqual([3, 5, 1]);
    expect([...data.subarray(3, 6)]).toEqual([0.25, 0.5, 2]);
  });
});
