// Parity of the 'cpu' backend (WASM SIMD kernels) with llama.cpp, through the Engine facade: every
// small test model and tensor type, whole and split into 2 layer ranges; the largest model, and its
// F32 twin at the bar, whole and in 3 ranges (only the benchmark models have more than 2
// layers). Teacher-forced top-5 log-probs and greedy continuations. MESH_TEST_FULL=1 adds the F16
// benchmark model and 2-range splits.
import { afterAll, describe, expect, it } from 'vitest';
import { ensureBenchF32ParityModel } from '../../tools/models/parity-twin.ts';
import { ensureModel } from '../../tools/models/registry.ts';
import { disposeReferenceRuntime, referenceRun, type ReferenceResult } from '../../tools/reference/reference.ts';
import { Engine } from './engine.ts';
import { logSoftmax } from './logprobs.ts';
import { GREEDY } from './sampler.ts';
import { argmax } from './top-k.ts';

const FULL = process.env.MESH_TEST_FULL === '1';
const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time';
/** The bar for F32/F16/BF16 weights. */
const TOLERANCE = 5e-3;
/**
 * Quantized weights: at most one position over TOLERANCE and under this. The WASM kernels round the
 * activations to int8 exactly as the reference kernels do, so the one allowance justified in
 * parity.test.ts (an activation within an ulp of a rounding boundary) applies here unchanged.
 */
const FLIP_TOLERANCE = 2e-2;
/** Below this top-1/top-2 margin llama.cpp's own greedy pick is a near-tie. */
const CLEAR_MARGIN = 0.05;
const GREEDY_STEPS = 10;

/**
 * The benchmark models (8 layers of width 512) are held to a looser, measured bound; why, by experiment
 * (helper F2's investigation; scripts of the kind in kernels/reference/flip-probe.ts):
 * - Not a structural bug: bench-llama-f32-parity below is bench-llama-q8_0's tensors in F32 (no activation
 *   rounding at all): every position within 7e-6 of llama.cpp, so 8 layers, GQA, RoPE, the KV cache
 *   and attention over 17 keys are right. llama.cpp itself is bit-for-bit the same across batch sizes
 *   (whole prompt, token by token, batch 4) and thread counts (1, 2).
 * - llama.cpp disagrees with itself as much: wllama (llama.cpp b11364 in WASM, Chromium) against the
 *   native reference, greedy steps of 4 prompts × 8 tokens: 3.9e-2 to 1.5e-1 (median ~9e-2) on
 *   bench-llama-q8_0 and 1.0e-3 to 7.3e-3 (median ~3.4e-3) on bench-llama-f16; ours against native:
 *   3.6e-2 to 1.7e-1 and 9.3e-4 to 6.6e-3; ours against wllama the same again. llama.cpp's own F16 KV
 *   cache against its F32 one moves bench-llama-q8_0 by 5e-2 to 1.7e-1 at every position.
 * - The mechanism is the int8 (Q8_0) or f16 rounding of activations: where a float sits within an ulp
 *   of a rounding boundary, implementations that sum in different orders round it differently. On
 *   the one-layer bench-llama-draft-q8_0 both positions over 5e-3 are single 1-ulp flips (checked in
 *   parity.test.ts). On a 2-layer truncation wllama matches us (3e-5) and not native (1.2e-2) at
 *   position 2, and native (3e-5) rather than us (2e-2) from position 3: each build flips elsewhere.
 *   With ~3000 rounded activations per token per layer, 8 layers flip somewhere at nearly every
 *   position and the KV cache carries each flip to every later position.
 * Closing the gap would mean reproducing one build's (x86 AVX2) float order in every kernel, which
 * would then disagree with llama.cpp's other builds just as much. So the bounds are about twice
 * llama.cpp's own build-to-build spread, and the WASM kernels must equal the scalar oracle.
 */
const DEEP_TOLERANCE = { quantized: { max: 0.3, median: 0.15 }, float: { max: 1e-2, median: 5e-3 } };
/** The WASM kernels against the scalar oracle on the deep Q8_0 model, over the whole vocabulary. */
const ORACLE_TOLERANCE = 1e-4;

interface Case {
  name: string;
  quantized: boolean;
  splits: string[];
  deep?: boolean;
  path?: () => Promise<string>;
}

/** bench-llama-q8_0's tensors (same seed) stored as F32: the deep model without any activation rounding. */
const benchF32 = async (): Promise<string> => ensureBenchF32ParityModel();
const two = ['0:1,1:2'];
const SMALL: Case[] = [
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
].map(([name, quantized]) => ({ name: name as string, quantized: quantized as boolean, splits: two }));
const LARGEST: Case[] = [
  { name: 'bench-llama-f32-parity', quantized: false, splits: ['0:3,3:5,5:8'], path: benchF32 },
  { name: 'bench-llama-q8_0', quantized: true, deep: true, splits: FULL ? ['0:4,4:8', '0:3,3:5,5:8'] : ['0:3,3:5,5:8'] },
  ...(FULL ? [{ name: 'bench-llama-f16', quantized: false, deep: true, splits: ['0:4,4:8', '0:3,3:5,5:8'] }] : []),
];

afterAll(() => disposeReferenceRuntime());

/** Worst |ours - llama.cpp| over each position's reference top-5; argmax checked where the gap is clear. */
function worstPerPosition(ref: ReferenceResult, logits: Float32Array, nVocab: number): number[] {
  return ref.positions.map((top, i) => {
    const lp = logSoftmax(logits, i * nVocab, nVocab);
    if (top[0].logprob - top[1].logprob > CLEAR_MARGIN) expect(argmax(lp), `argmax at position ${i}`).toBe(top[0].id);
    return Math.max(...top.map((t) => Math.abs(lp[t.id] - t.logprob)));
  });
}

function expectWithinDeepTolerance(worst: number[], quantized: boolean): void {
  const bound = quantized ? DEEP_TOLERANCE.quantized : DEEP_TOLERANCE.float;
  const sorted = [...worst].sort((a, b) => a - b);
  const detail = worst.map((w) => w.toExponential(1)).join(' ');
  expect(sorted.at(-1)!, detail).toBeLessThan(bound.max);
  expect(sorted[Math.floor(sorted.length / 2)], detail).toBeLessThan(bound.median);
}

function expectWithinTolerance(worst: number[], quantized: boolean): void {
  const over = worst.filter((w) => w >= TOLERANCE);
  expect(over.length, `positions over ${TOLERANCE}: ${worst.map((w) => w.toExponential(1)).join(' ')}`).toBeLessThanOrEqual(quantized ? 1 : 0);
  expect(Math.max(...worst)).toBeLessThan(quantized ? FLIP_TOLERANCE : TOLERANCE);
}

async function expectOracleAgreement(path: string, tokens: number[], cpu: Float32Array): Promise<void> {
  const oracle = await Engine.load(path, { backend: 'ref' });
  try {
    const want = await oracle.createSession().extend(tokens);
    const nVocab = oracle.config.nVocab;
    let worst = 0;
    for (let i = 0; i < tokens.length; i++) {
      const a = logSoftmax(want, i * nVocab, nVocab),
        b = logSoftmax(cpu, i * nVocab, nVocab);
      for (let j = 0; j < nVocab; j++) worst = Math.max(worst, Math.abs(a[j] - b[j]));
    }
    expect(worst).toBeLessThan(ORACLE_TOLERANCE);
  } finally {
    await oracle.close();
  }
}

async function greedyTokens(engine: Engine, prompt: readonly number[]): Promise<number[]> {
  const out: number[] = [];
  for await (const ev of engine.generate({ promptTokens: prompt, maxTokens: GREEDY_STEPS, sampling: GREEDY })) if (ev.type === 'token') out.push(ev.token);
  return out;
}

describe('cpu backend vs llama.cpp', () => {
  for (const c of [...SMALL, ...LARGEST]) {
    const allowance = c.quantized ? `, one position under ${FLIP_TOLERANCE},` : '';
    const bound = c.deep
      ? `within the deep-model bound ${JSON.stringify(c.quantized ? DEEP_TOLERANCE.quantized : DEEP_TOLERANCE.float)}${c.quantized ? ', equal to the oracle,' : ','}`
      : `within ${TOLERANCE}${allowance}`;
    it(`${c.name}: top-5 log-probs ${bound} and greedy tokens, whole and split ${c.splits.join(' / ')}`, async () => {
      const path = await (c.path ?? (() => ensureModel(c.name)))();
      const ref = await referenceRun({ modelPath: path, prompt: PROMPT, topK: 5 });
      const refGreedy = await referenceRun({ modelPath: path, prompt: PROMPT, topK: 2, greedySteps: GREEDY_STEPS });
      // On the deep models a pick can only be trusted where llama.cpp's margin exceeds the drift bound.
      const margin = c.deep ? (c.quantized ? DEEP_TOLERANCE.quantized.max : DEEP_TOLERANCE.float.max) : CLEAR_MARGIN;
      const clear = refGreedy.greedy.findIndex((s) => s.margin < margin);
      const n = clear < 0 ? refGreedy.greedy.length : clear;
      expect(n, 'too few clear greedy steps to compare').toBeGreaterThanOrEqual(3);
      let whole: Float32Array | undefined;
      for (const split of [undefined, ...c.splits]) {
        const engine = await Engine.load(path, { backend: 'cpu', split });
        try {
          expect(engine.tokenize(PROMPT)).toEqual(ref.promptTokens);
          const session = engine.createSession();
          const logits = await session.extend(ref.promptTokens);
          session.free();
          const worst = worstPerPosition(ref, logits, engine.config.nVocab);
          if (c.deep) expectWithinDeepTolerance(worst, c.quantized);
          else expectWithinTolerance(worst, c.quantized);
          // Stages hand over hidden states exactly: a split gives the unsplit logits bit for bit.
          if (whole) {
            let differing = 0;
            for (let i = 0; i < whole.length; i++) if (whole[i] !== logits[i]) differing++;
            expect(differing, `split ${split}`).toBe(0);
          } else {
            whole = logits;
            if (c.deep && c.quantized) await expectOracleAgreement(path, ref.promptTokens, logits);
          }
          const tokens = await greedyTokens(engine, refGreedy.promptTokens);
          expect(tokens.slice(0, n), `split ${split ?? 'none'}`).toEqual(refGreedy.greedy.slice(0, n).map((s) => s.token));
          if (clear >= 0 && tokens.length > clear) expect(refGreedy.greedy[clear].top.map((t) => t.id)).toContain(tokens[clear]);
        } finally {
          await engine.close();
        }
      }
    });
  }
});
