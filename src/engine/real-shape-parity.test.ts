// A model with Qwen2.5-0.5B-Instruct's exact shapes, metadata and Q4_K_M layout (random weights;
// tools/models: qwen2.5-0.5b-shape-q4_k_m) runs on the cpu backend whole and split in two ranges,
// bit-identical, with its top-5 log-probs at every position within llama.cpp's own WASM-to-native
// spread on this file (measured by playwright/real-shape.spec.ts); its first two layers alone are held to the tiny models' bound,
// which shows every tensor type at these widths exact (the deep drift is compounded rounding flips);
// its F32 twin (the same tensors, ~2 GB, no activation rounding) is held to 5e-3 whole and split.
// ~380 MiB and about a minute to generate on 2 cores: MESH_TEST_FULL=1 only (npm run test:full; the
// browser spec holds the same file to the spread in npm test).
import { afterAll, describe, expect, it } from 'vitest';
import { ensureQwenShapeF32Model, ensureQwenShapeTwoLayerModel } from '../../tools/models/parity-twin.ts';
import { ensureModel } from '../../tools/models/registry.ts';
import { disposeReferenceRuntime, referenceRun } from '../../tools/reference/reference.ts';
import { Engine } from './engine.ts';
import { logSoftmax } from './logprobs.ts';
import { argmax } from './top-k.ts';

const FULL = process.env.MESH_TEST_FULL === '1';
const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time';
/**
 * The deep quantized model's bound: llama.cpp's own spread on this file. Activations rounded to int8
 * before each matmul flip in different places when sums run in a different order, and 24 layers
 * compound the flips; playwright/real-shape.spec.ts measures llama.cpp's WASM build (wllama) against
 * native on it at up to 0.67 over a prompt's top-5 log-probs (ARCHITECTURE.md, "Parity with
 * llama.cpp"). Measured here: 0.43 on the next token, 0.09 to 0.43 over the prompt's positions, while
 * the same tensors in F32 (2 GiB, not kept) agree with llama.cpp to 3.3e-5 at every position (the F32
 * twin test below), and the 2-layer twin to 3.5e-6.
 */
const LLAMA_CPP_SPREAD = 0.7;
/** The tiny models' bound (cpu-parity.test.ts): 5e-3, and one rounding flip under 2e-2. */
const SHALLOW = { tolerance: 5e-3, flip: 2e-2 };

afterAll(() => disposeReferenceRuntime());

describe.skipIf(!FULL)('qwen2.5-0.5b-shape-q4_k_m (Qwen2.5-0.5B’s shapes, Q4_K_M)', () => {
  it('runs whole and split 0:12,12:24 bit-identically, its top-5 log-probs within llama.cpp’s own spread', async () => {
    const path = await ensureModel('qwen2.5-0.5b-shape-q4_k_m');
    const ref = await referenceRun({ modelPath: path, prompt: PROMPT, topK: 5 });
    let whole: Float32Array | undefined;
    for (const split of [undefined, '0:12,12:24']) {
      const engine = await Engine.load(path, { backend: 'cpu', split });
      try {
        expect(engine.config).toMatchObject({ nLayer: 24, nEmbd: 896, nHead: 14, nHeadKv: 2, headDim: 64, nFf: 4864, nVocab: 151936 });
        expect(engine.tokenize(PROMPT)).toEqual(ref.promptTokens);
        const session = engine.createSession();
        const logits = await session.extend(ref.promptTokens);
        session.free();
        const n = engine.config.nVocab;
        const worst = ref.positions.map((top, i) => {
          const lp = logSoftmax(logits, i * n, n);
          return Math.max(...top.map((t) => Math.abs(lp[t.id] - t.logprob)));
        });
        const detail = worst.map((w) => w.toExponential(1)).join(' ');
        // The first next-token: the distribution after the whole prompt.
        const last = ref.positions.length - 1;
        expect(Math.max(...worst), detail).toBeLessThan(LLAMA_CPP_SPREAD);
        if (ref.positions[last][0].logprob - ref.positions[last][1].logprob > LLAMA_CPP_SPREAD)
          expect(argmax(logSoftmax(logits, last * n, n))).toBe(ref.positions[last][0].id);
        if (whole) {
          let differing = 0;
          for (let i = 0; i < whole.length; i++) if (whole[i] !== logits[i]) differing++;
          expect(differing, `split ${split}`).toBe(0);
        } else {
          whole = logits;
        }
      } finally {
        await engine.close();
      }
    }
  }, 600_000);

  it('its first two layers (every tensor type at these widths) match llama.cpp within the tiny models’ bound', async () => {
    const path = ensureQwenShapeTwoLayerModel();
    const ref = await referenceRun({ modelPath: path, prompt: PROMPT, topK: 5 });
    const engine = await Engine.load(path, { backend: 'cpu' });
    try {
      const logits = await engine.createSession().extend(ref.promptTokens);
      const n = engine.config.nVocab;
      const worst = ref.positions.map((top, i) => {
        const lp = logSoftmax(logits, i * n, n);
        return Math.max(...top.map((t) => Math.abs(lp[t.id] - t.logprob)));
      });
      const detail = worst.map((w) => w.toExponential(1)).join(' ');
      expect(worst.filter((w) => w >= SHALLOW.tolerance).length, detail).toBeLessThanOrEqual(1);
      expect(Math.max(...worst), detail).toBeLessThan(SHALLOW.flip);
    } finally {
      await engine.close();
    }
  }, 600_000);

  it('its F32 twin (2 GB, no activation rounding) matches llama.cpp within 5e-3 at every position, whole and split 0:12,12:24', async () => {
    const path = ensureQwenShapeF32Model();
    const ref = await referenceRun({ modelPath: path, prompt: PROMPT, topK: 5 });
    for (const split of [undefined, '0:12,12:24']) {
      const engine = await Engine.load(path, { backend: 'cpu', split });
      try {
        const logits = await engine.createSession().extend(ref.promptTokens);
        const n = engine.config.nVocab;
        const worst = ref.positions.map((top, i) => {
          const lp = logSoftmax(logits, i * n, n);
          return Math.max(...top.map((t) => Math.abs(lp[t.id] - t.logprob)));
        });
        expect(Math.max(...worst), `split ${split}: ${worst.map((w) => w.toExponential(1)).join(' ')}`).toBeLessThan(SHALLOW.tolerance);
      } finally {
        await engine.close();
      }
    }
  }, 900_000);
});
