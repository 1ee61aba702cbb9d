// Every generated test model loads in llama.cpp and the reference harness returns sane distributions.
// `npm test`: the tiny models, one K-quant mixture and the benchmark model once; MESH_TEST_FULL=1: all.
import { afterAll, describe, expect, it } from 'vitest';
import { ensureModel, MODELS } from '../models/registry.ts';
import { LlamaRuntime, referenceRun } from './reference.ts';

const full = process.env.MESH_TEST_FULL === '1';
const everyRun = new Set(['small-llama-q4_k_m', 'bench-llama-q8_0']);
const models = MODELS.filter((m) => full || m.tags.includes('tiny') || everyRun.has(m.name));
const runtime = new LlamaRuntime();
afterAll(() => runtime.dispose());

describe.each(models)('$name in llama.cpp', (spec) => {
  it('gives one distribution per prompt token and a consistent greedy continuation', { timeout: 600_000 }, async () => {
    const modelPath = await ensureModel(spec.name); // generating the benchmark model takes a while
    const r = await referenceRun({ modelPath, prompt: 'Once upon a time, in a small village', topK: 5, greedySteps: 4, noCache: true }, runtime);
    expect(r.settings.nVocab).toBe(spec.vocab === 'qwen2' ? 151936 : 32000);
    expect(r.positions).toHaveLength(r.promptTokens.length);
    expect(r.promptTokens.length).toBeGreaterThan(5);
    for (const top of [...r.positions, ...r.greedy.map((g) => g.top)]) {
      expect(top).toHaveLength(5);
      expect(top.reduce((s, t) => s + Math.exp(t.logprob), 0)).toBeLessThanOrEqual(1 + 1e-9);
      for (let i = 0; i < top.length; i++) {
        expect(top[i].logprob).toBeLessThanOrEqual(0);
        if (i > 0) expect(top[i - 1].logprob).toBeGreaterThanOrEqual(top[i].logprob);
      }
    }
    // Random weights still give a non-uniform distribution (a broken load tends to give flat or NaN logits).
    expect(r.positions.some((top) => top[0].logprob > -Math.log(r.settings.nVocab) + 1)).toBe(true);
    expect(r.greedy.length).toBeGreaterThan(0);
    for (const step of r.greedy) expect(step.margin).toBeGreaterThanOrEqual(0);
    const last = r.positions.at(-1)!;
    expect(r.greedy[0].top[0].logprob).toBeCloseTo(last[0].logprob, 3);
    if (last[0].logprob - last[1].logprob > 1e-3) expect(r.greedy[0].token).toBe(last[0].id);
  });
});
