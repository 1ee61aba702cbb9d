// Parity with llama.cpp: teacher-forced top-5 log-probabilities of the reference forward pass on the
// project's tiny test models, whole and split (2 ranges; 3 on the 4-layer model and the largest),
// against llama.cpp's own (tools/reference/).
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { BENCH_F32_PARITY, ensureBenchF32ParityModel } from '../../tools/models/parity-twin.ts';
import { ensureModel } from '../../tools/models/registry.ts';
import { disposeReferenceRuntime, referenceRun } from '../../tools/reference/reference.ts';
import { memorySource } from '../gguf/byte-source.ts';
import { FlipProbe } from '../kernels/testing/flip-probe.ts';
import { referenceKernels } from '../kernels/reference/index.ts';
import { logSoftmax } from './logprobs.ts';
import { openModel, type ModelFile } from './model.ts';
import { openPipeline, type LayerRange } from './pipeline.ts';

const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time';

/**
 * The bar is 5e-3 (the issue's, for F32/F16/BF16) at every position: the reference rounds activations
 * exactly as ggml does before each dot product (kernels/reference/activation-rounding.ts), so it
 * reproduces llama.cpp rather than approximating it. Measured worst cases: 2e-6 to 4e-6 for every
 * type on the llama models, 1e-3 on qwen2 F16 (151,936-entry vocabulary).
 *
 * Quantized weights get one allowance. Their activations are rounded to int8 (Q8_0/Q8_K) before each
 * dot product, and our float results differ from llama.cpp's SIMD kernels in the last bit now and
 * then; when an activation lands within an ulp of a rounding boundary (x·127/amax = k + 0.5), the two
 * round it to neighbouring integers. On small-llama-q6_k that happens once: element 255 of the final
 * hidden state at prompt position 7 scales to -72.500008 here and -72.5 in llama.cpp, and that
 * single int8 step moves the position's log-probs by up to 1.7e-2 (logits of these models have
 * std 6); forcing the other rounding brings the position to 3e-6. It is not a format bug, and
 * bit-exact parity would need llama.cpp's float op order in every kernel. So: at most one position
 * per prompt may exceed 5e-3, and it must stay under 2e-2.
 */
const FLIP_TOLERANCE = 2e-2;
const MODELS: [name: string, quantizedActivations: boolean][] = [
  ['tiny-llama-f32', false],
  ['tiny-llama-f16', false],
  ['tiny-llama-bf16', false],
  ['tiny-llama-q8_0', true],
  ['tiny-llama-q4_0', true],
  ['tiny-llama-q5_0', true],
  ['small-llama-q4_k', true],
  ['small-llama-q5_k', true],
  ['small-llama-q6_k', true],
  ['small-llama-q4_k_m', true],
  ['tiny-qwen2-f16', false],
  ['tiny-qwen3-q8_0', true],
  ['tiny-moe-f16', false],
];
const TOLERANCE = 5e-3;

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
  for (const [name, quantizedActivations] of MODELS) {
    const allowance = quantizedActivations ? `, one position under ${FLIP_TOLERANCE}` : '';
    it(`${name}: top-5 log-probs within ${TOLERANCE}${allowance}, whole and split in 2 stages identically`, async () => {
      const path = await ensureModel(name);
      const ref = await referenceRun({ modelPath: path, prompt: PROMPT, topK: 5 });
      expect(ref.promptTokens.length).toBeGreaterThan(10);
      const model = await load(path);
      const nVocab = model.config.nVocab;
      const whole = await forward(model, ref.promptTokens);
      const worst = ref.positions.map((top, i) => {
        const lp = logSoftmax(whole.logits, i * nVocab, nVocab);
        // Our argmax is llama.cpp's wherever llama.cpp's own top-2 gap is clear.
        if (top[0].logprob - top[1].logprob > 0.05) expect(argmax(lp)).toBe(top[0].id);
        return Math.max(...top.map((t) => Math.abs(lp[t.id] - t.logprob)));
      });
      const over = worst.filter((w) => w >= TOLERANCE);
      expect(over.length, `positions over ${TOLERANCE}: ${worst.map((w) => w.toExponential(1)).join(' ')}`).toBeLessThanOrEqual(quantizedActivations ? 1 : 0);
      expect(Math.max(...worst)).toBeLessThan(quantizedActivations ? FLIP_TOLERANCE : TOLERANCE);
      const split = await forward(model, ref.promptTokens, [
        [0, 1],
        [1, 2],
      ]);
      expect(split.logits.length).toBe(whole.logits.length);
      let differing = 0; // toEqual on millions of floats is slow; count instead
      for (let i = 0; i < whole.logits.length; i++) if (split.logits[i] !== whole.logits[i]) differing++;
      expect(differing).toBe(0);
    });
  }

  /*
   * 3 layer ranges (only models of 3 or more layers have them) and the largest model once: the 4-layer
   * tiny llama in 2 and 3 ranges, and bench-llama-f32-parity (8 layers of width 512, the benchmark
   * model's tensors in F32, so no activation rounding) in 3, each within 5e-3 of llama.cpp at every
   * position and bit-identical to its unsplit run.
   */
  const deeper: [name: string, path: () => string | Promise<string>, splits: LayerRange[][]][] = [
    [
      'tiny-llama-4l-f32',
      () => ensureModel('tiny-llama-4l-f32'),
      [
        [
          [0, 2],
          [2, 4],
        ],
        [
          [0, 1],
          [1, 3],
          [3, 4],
        ],
      ],
    ],
    [
      BENCH_F32_PARITY,
      ensureBenchF32ParityModel,
      [
        [
          [0, 3],
          [3, 5],
          [5, 8],
        ],
      ],
    ],
  ];
  for (const [name, path, splits] of deeper) {
    it(`${name}: top-5 log-probs within ${TOLERANCE}, whole and split ${splits.map((r) => r.map(([a, b]) => `${a}:${b}`).join(',')).join(' / ')} identically`, async () => {
      const file = await path();
      const ref = await referenceRun({ modelPath: file, prompt: PROMPT, topK: 5 });
      const model = await load(file);
      const nVocab = model.config.nVocab;
      const whole = await forward(model, ref.promptTokens);
      const worst = ref.positions.map((top, i) => {
        const lp = logSoftmax(whole.logits, i * nVocab, nVocab);
        if (top[0].logprob - top[1].logprob > 0.05) expect(argmax(lp)).toBe(top[0].id);
        return Math.max(...top.map((t) => Math.abs(lp[t.id] - t.logprob)));
      });
      expect(Math.max(...worst), worst.map((w) => w.toExponential(1)).join(' ')).toBeLessThan(TOLERANCE);
      for (const ranges of splits) {
        const split = await forward(model, ref.promptTokens, ranges);
        let differing = 0;
        for (let i = 0; i < whole.logits.length; i++) if (split.logits[i] !== whole.logits[i]) differing++;
        expect(differing, `split ${JSON.stringify(ranges)}`).toBe(0);
      }
    }, 120_000);
  }

  /*
   * The allowance above, checked rather than argued, at the benchmark width (512, 16 blocks per dot
   * product; bench-llama-draft-q8_0 is bench-llama-q8_0's first layer alone). Measured: 2 of 17
   * positions over 5e-3 (1.2e-2 at position 3, 5.5e-2 at 12); moving one activation by one ulp brings
   * each to 2e-6: at 3, element 986 of the ffn_down input (x·127/amax a hair from k + 0.5); at 12, the
   * largest element of a wo input block, whose amax/127 is exactly an fp16 tie for the block scale.
   * On the 8-layer models such flips happen in some layer at almost every position and travel on
   * through the KV cache: see the deep-model bounds in cpu-parity.test.ts.
   */
  it('bench-llama-draft-q8_0: every position over 5e-3 is one last-bit flip of an int8 activation rounding', async () => {
    const path = await ensureModel('bench-llama-draft-q8_0');
    const ref = await referenceRun({ modelPath: path, prompt: PROMPT, topK: 5 });
    const model = await load(path);
    const nVocab = model.config.nVocab;
    const probe = new FlipProbe(referenceKernels);
    const pipeline = await openPipeline(model, undefined, { kernels: probe.kernels });
    const errorAt = (logits: Float32Array, p: number) => {
      const lp = logSoftmax(logits, p * nVocab, nVocab);
      return Math.max(...ref.positions[p].map((t) => Math.abs(lp[t.id] - t.logprob)));
    };
    const prefixError = async (p: number) => {
      probe.reset();
      return errorAt(await pipeline.createSession().forward(ref.promptTokens.slice(0, p + 1)), p);
    };
    probe.reset();
    const whole = await pipeline.createSession().forward(ref.promptTokens);
    const worst = ref.positions.map((_, p) => errorAt(whole, p));
    const over = worst.flatMap((w, p) => (w >= TOLERANCE ? [p] : []));
    expect(over.length, `positions over ${TOLERANCE}: ${worst.map((w) => w.toExponential(1)).join(' ')}`).toBeLessThanOrEqual(3);
    for (const p of over) {
      probe.found.length = 0;
      probe.probe = { token: p, maxUlps: 4 };
      await prefixError(p);
      probe.probe = undefined;
      let best = Infinity;
      for (const flip of probe.found) {
        probe.nudge = flip;
        best = Math.min(best, await prefixError(p));
        probe.nudge = undefined;
        if (best < 1e-4) break;
      }
      expect(best, `position ${p} (${worst[p].toExponential(1)}): none of ${probe.found.length} single last-bit flips explains it`).toBeLessThan(1e-4);
    }
  });

  it('the tiny F32 model runs a 16-token prompt in well under a second', async () => {
    const model = await load(await ensureModel('tiny-llama-f32'));
    const { ms } = await forward(
      model,
      Array.from({ length: 16 }, (_, i) => 100 + i * 37),
    );
    expect(ms).toBeLessThan(1000);
  });
});
