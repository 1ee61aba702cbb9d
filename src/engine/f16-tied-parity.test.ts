// Issue 14's F16 fidelity gap, on a model of its shape: F16, tied output embeddings, head dim 48, the
// 32k llama vocabulary (tied-llama-hd48-f16; every other test model's head dim is 16 or 64).
// - Its F32 twin (same tensors, no f16 rounding anywhere) agrees with llama.cpp to 5e-5 at every
//   position, whole and split: head dim 48, the tied output and grouped-query attention are exact.
// - On the F16 model ours differs from llama.cpp, at every position, by about as much as our own
//   reference differs from itself when every activation moves by one f32 ulp of its row's largest
//   value before its f16 rounding (the error another, equally correct summation order leaves). The gap is f16 rounding flips, not a bug, and such flips
//   alone exceed 5e-3: no kernel can meet that bar against every llama.cpp build at once.
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTiedHd48F32Model } from '../../tools/models/parity-twin.ts';
import { ensureModel } from '../../tools/models/registry.ts';
import { disposeReferenceRuntime, referenceRun, type ReferenceResult } from '../../tools/reference/reference.ts';
import { referenceKernels } from '../kernels/reference/index.ts';
import { jitteredKernels } from '../kernels/testing/flip-probe.ts';
import { Engine } from './engine.ts';
import { fileSource } from './file-source.ts';
import { logSoftmax } from './logprobs.ts';
import { openModel } from './model.ts';
import { openPipeline } from './pipeline.ts';

const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time';
const TOP = 20;
const JITTER_SEEDS = [1, 2, 3];

afterAll(() => disposeReferenceRuntime());

/** Worst |log-prob difference| over llama.cpp's top TOP tokens, per prompt position. */
function gaps(ref: ReferenceResult, logits: Float32Array, nVocab: number): number[] {
  return ref.positions.map((top, i) => {
    const lp = logSoftmax(logits, i * nVocab, nVocab);
    return Math.max(...top.map((t) => Math.abs(lp[t.id] - t.logprob)));
  });
}

async function cpuLogits(path: string, split: string | undefined, tokens: number[]): Promise<{ logits: Float32Array; nVocab: number }> {
  const engine = await Engine.load(path, { backend: 'cpu', split });
  try {
    return { logits: await engine.createSession().extend(tokens), nVocab: engine.config.nVocab };
  } finally {
    await engine.close();
  }
}

const show = (xs: number[]) => xs.map((x) => x.toExponential(1)).join(' ');

describe('tied-llama-hd48 (F16, tied output, head dim 48, 32k vocabulary)', () => {
  it('its F32 twin matches llama.cpp within 5e-5 at every position, whole and split 0:1,1:2', async () => {
    const path = ensureTiedHd48F32Model();
    const ref = await referenceRun({ modelPath: path, prompt: PROMPT, topK: TOP });
    for (const split of [undefined, '0:1,1:2']) {
      const { logits, nVocab } = await cpuLogits(path, split, ref.promptTokens);
      const g = gaps(ref, logits, nVocab);
      expect(Math.max(...g), `split ${split}: ${show(g)}`).toBeLessThan(5e-5);
    }
  }, 300_000);

  it('F16: ours differs from llama.cpp at each position within 1.5x the spread of 1-ulp activation changes, which alone exceeds 5e-3', async () => {
    const path = await ensureModel('tied-llama-hd48-f16');
    const ref = await referenceRun({ modelPath: path, prompt: PROMPT, topK: TOP });
    const whole = await cpuLogits(path, undefined, ref.promptTokens);
    const split = await cpuLogits(path, '0:1,1:2', ref.promptTokens);
    let differing = 0;
    for (let i = 0; i < whole.logits.length; i++) if (whole.logits[i] !== split.logits[i]) differing++;
    expect(differing).toBe(0);
    const gap = gaps(ref, whole.logits, whole.nVocab);

    // Our scalar reference, plain and with every matmul's activations moved by one ulp at random.
    const source = await fileSource(path);
    try {
      const model = await openModel(source);
      const n = model.config.nVocab;
      const run = async (kernels = referenceKernels) => (await openPipeline(model, undefined, { kernels })).createSession().forward(ref.promptTokens);
      const plain = await run();
      const spread = ref.positions.map(() => 0);
      for (const seed of JITTER_SEEDS) {
        const moved = await run(jitteredKernels(referenceKernels, seed));
        ref.positions.forEach((top, i) => {
          const a = logSoftmax(plain, i * n, n);
          const b = logSoftmax(moved, i * n, n);
          for (const t of top) spread[i] = Math.max(spread[i], Math.abs(a[t.id] - b[t.id]));
        });
      }
      const detail = `ours vs llama.cpp ${show(gap)}; ours vs ours moved 1 ulp ${show(spread)}`;
      // Measured: gap 3.3e-3 to 1.0e-2 (the first next-token 1.0e-2), spread 4.5e-3 to 1.5e-2, at every
      // position at least 0.95x the gap; the F32 twin's gap is 1.7e-5.
      expect(Math.max(...spread), detail).toBeGreaterThan(5e-3);
      for (let i = 0; i < gap.length; i++) expect(gap[i], `position ${i}: ${detail}`).toBeLessThan(1.5 * spread[i]);
      expect(gap.at(-1)!, detail).toBeLessThan(2e-2);
    } finally {
      await source.close();
    }
  }, 300_000);
});
