// llama.cpp reads the generated models as real ones: it tokenizes with the copied vocabulary exactly as
// llama.cpp's own tokenizer test vectors say, and evaluates tokens to finite, non-flat logits.
// (tools/reference/models.test.ts checks every model's distributions; this is the light A-side check.)
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { getLlama, LlamaLogLevel, type Llama } from 'node-llama-cpp';
import { vocabPath } from '../llama-source.ts';
import { ensureModel, modelSpec } from './registry.ts';

let llama: Promise<Llama> | undefined;
const runtime = () =>
  (llama ??= getLlama({ gpu: false, build: 'never', usePrebuiltBinaries: true, skipDownload: true, progressLogs: false, logLevel: LlamaLogLevel.error }));
afterAll(async () => {
  if (llama) await (await llama).dispose();
});

/** llama.cpp's tokenizer test vectors (test-tokenizer-0 format): inputs split by a marker line, one id list per line. */
function vectors(vocab: string): { text: string; ids: number[] }[] {
  const inp = readFileSync(`${vocabPath(vocab)}.inp`, 'utf8').split('\n__ggml_vocab_test__\n');
  const out = readFileSync(`${vocabPath(vocab)}.out`, 'utf8').split('\n');
  return inp.slice(0, out.length).map((text, i) => ({ text, ids: out[i].trim() ? out[i].trim().split(/\s+/).map(Number) : [] }));
}

describe.each(['tiny-llama-q4_0', 'tiny-qwen2-f16'])('%s in llama.cpp', (name) => {
  it('tokenizes llama.cpp’s test vectors exactly', async () => {
    const model = await (await runtime()).loadModel({ modelPath: await ensureModel(name) });
    try {
      const cases = vectors(modelSpec(name).vocab);
      expect(cases.length).toBeGreaterThan(20);
      for (const { text, ids } of cases) expect(Array.from(model.tokenize(text, false)), JSON.stringify(text)).toEqual(ids);
    } finally {
      await model.dispose();
    }
  });

  it('evaluates a prompt to a peaked next-token distribution', async () => {
    const model = await (await runtime()).loadModel({ modelPath: await ensureModel(name) });
    const context = await model.createContext({ contextSize: 256, threads: 1 });
    try {
      const sequence = context.getSequence();
      const tokens = model.tokenize('The quick brown fox jumps over the lazy dog.');
      const confidences: number[] = [];
      for await (const out of sequence.evaluateWithMetadata(tokens, { confidence: true }, { temperature: 0 })) {
        expect(Number.isFinite(out.confidence)).toBe(true);
        confidences.push(out.confidence);
        if (confidences.length === 6) break;
      }
      // Greedy picks are far likelier than uniform (1 / vocabulary), as the weight scaling intends.
      const mean = confidences.reduce((a, b) => a + b) / confidences.length;
      expect(mean).toBeGreaterThan(0.1);
      expect(Math.max(...confidences)).toBeLessThan(1);
    } finally {
      await context.dispose();
      await model.dispose();
    }
  });
});
