// The WebGPU backend in headless Chromium (SwiftShader here): teacher-forced top-5 log-probs against
// llama.cpp (computed in this process) whole and split into 2 and 3 layer ranges, against the
// reference kernels in the same page, and the KV cache paths (decode one token at a time, truncate and
// extend again). Every small model and tensor type and the largest once in npm test; one page (so one GPU device and its compiled pipelines) serves them all.
import { expect, test, type Page } from '@playwright/test';
import { ensureBenchF32ParityModel } from '../tools/models/parity-twin.ts';
import { ensureModel } from '../tools/models/registry.ts';
import { disposeReferenceRuntime, referenceRun } from '../tools/reference/reference.ts';
import type { ParityOptions, WebGpuParity } from './support/webgpu-page.ts';
import { startWebGpuTestServer, type TestServer } from './support/webgpu-server.ts';

const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time';
/** As src/engine/parity.test.ts: 5e-3 everywhere; with quantized activations one position may reach 2e-2. */
const TOLERANCE = 5e-3;
const FLIP_TOLERANCE = 2e-2;
/** Only models of 3 or more layers split into 3 ranges (stages are never empty); the tiny ones have 2. */
const TWO = ['0:1,1:2'];
const FULL = process.env.MESH_TEST_FULL === '1';

/**
 * How activations are rounded before each weight matmul, as ggml does (kernels/reference/activation-rounding.ts):
 * none for F32, to f16/bf16 for F16/BF16 weights, to int8 blocks for the quantized types. Rounding is
 * where the GPU and the reference kernels can part: their f32 elementwise ops (RoPE, the attention
 * softmax, SiLU) differ in the last bit now and then, and a value that sits on a rounding boundary
 * then rounds the other way. tiny-qwen2-f16 shows it: its stage differs from the reference kernels
 * only at prompt position 11 of layer 0, where element 20 of the attention output (the wo input) is
 * 0.696044921875 on the reference, exactly halfway between two f16 values, and one f32 ulp below on
 * the GPU, so it rounds down instead of up; every other position and layer 1 are bit-identical, and
 * the row moves by 8.7e-4 (2.2e-4 of the stage's largest value, 5.6e-3 in log-prob after the
 * 151,936-entry output head; the reference kernels themselves are 1e-3 from llama.cpp there, the GPU
 * 4.8e-3, both inside the issue's 5e-3). tiny-qwen3moe-f16 looks the same: f32-ulp differences at
 * most positions (the experts' weighted sum) and 1e-4 at one position per layer (4.8e-5 of the stage).
 */
type Rounding = 'none' | 'half' | 'int8';

interface Case {
  readonly name: string;
  readonly rounding: Rounding;
  readonly splits: readonly string[];
  readonly path?: () => string | Promise<string>;
  /** Skip the reference-kernel comparison and the decode checks (the largest model: scalar code is slow). */
  readonly largest?: boolean;
}

/** Bounds against the reference kernels in the page: relative stage output, then log-prob. */
const STAGE_BOUND: Record<Rounding, number> = { none: 1e-4, half: 1e-3, int8: 2e-2 };
const LOGPROB_BOUND: Record<Rounding, number> = { none: 1e-3, half: FLIP_TOLERANCE, int8: FLIP_TOLERANCE };

/**
 * Every small model and tensor type runs in npm test (SwiftShader takes 3 to 40 s a model: the qwen2
 * vocabulary's 151,936-row output head is the slow part), 3 ranges on the 4-layer llama, and the
 * largest model once, split in 3 (whole equals split bit for bit on every other model);
 * MESH_TEST_FULL=1 adds the 4-layer llama's 2-way split and the largest model whole.
 */
const CASES: Case[] = [
  ...(
    [
      ['tiny-llama-f32', 'none'],
      ['tiny-llama-f16', 'half'],
      ['tiny-llama-bf16', 'half'],
      ['tiny-llama-q8_0', 'int8'],
      ['tiny-llama-q4_0', 'int8'],
      ['tiny-llama-q5_0', 'int8'],
      ['small-llama-q4_k', 'int8'],
      ['small-llama-q5_k', 'int8'],
      ['small-llama-q6_k', 'int8'],
      ['small-llama-q4_k_m', 'int8'],
      ['tiny-qwen2-f16', 'half'],
      ['tiny-qwen3-q8_0', 'int8'],
      // Mixture of experts: Mixtral-style, qwen2moe (sigmoid-gated shared expert, no renormalisation), qwen3moe.
      ['tiny-moe-f16', 'half'],
      ['tiny-qwen2moe-f16', 'half'],
      ['tiny-qwen3moe-f16', 'half'],
    ] as const
  ).map(([name, rounding]) => ({ name, rounding, splits: TWO })),
  { name: 'tiny-llama-4l-f32', rounding: 'none', splits: FULL ? ['0:2,2:4', '0:1,1:3,3:4'] : ['0:1,1:3,3:4'] },
  { name: 'bench-llama-f32-parity', rounding: 'none', splits: ['0:3,3:5,5:8'], path: ensureBenchF32ParityModel, largest: true },
];

let server: TestServer;
let page: Page;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }) => {
  server = await startWebGpuTestServer();
  page = await browser.newPage();
  await page.goto(`${server.base}/playwright/support/webgpu.html`);
});

test.afterAll(async () => {
  await page?.close();
  await server?.close();
  await disposeReferenceRuntime();
});

/** The bar: 5e-3 at every position; int8 activations may flip one position, under 2e-2 (parity.test.ts). */
function expectNearLlama(worst: number[], rounding: Rounding, what: string): void {
  const quantized = rounding === 'int8';
  const over = worst.filter((w) => w >= TOLERANCE);
  const detail = `${what}: ${worst.map((w) => w.toExponential(1)).join(' ')}`;
  expect(over.length, detail).toBeLessThanOrEqual(quantized ? 1 : 0);
  expect(Math.max(...worst), detail).toBeLessThan(quantized ? FLIP_TOLERANCE : TOLERANCE);
}

for (const c of CASES) {
  test(`${c.name}: WebGPU matches llama.cpp${c.largest ? '' : ' and the reference kernels'}, whole and split ${c.splits.join(' / ')}${c.largest ? '' : ', decoding'}`, async () => {
    const path = await (c.path ?? (() => ensureModel(c.name)))();
    const ref = await referenceRun({ modelPath: path, prompt: PROMPT, topK: 5 });
    expect(ref.promptTokens.length).toBeGreaterThan(10);
    const url = `${server.base}/models/${c.name}.gguf`;
    const opts: ParityOptions = { splits: c.splits, whole: !c.largest || FULL, reference: !c.largest, decode: !c.largest };
    const r: WebGpuParity = await page.evaluate(
      async ({ url, ref, opts }) => {
        const { webgpuParity } = await import('/playwright/support/webgpu-page.ts' as string);
        return webgpuParity(url, ref, opts);
      },
      { url, ref: { promptTokens: ref.promptTokens, positions: ref.positions }, opts },
    );
    const ms = r.ms;
    const vsLlama = Math.max(...r.wholeVsLlama, ...r.splits.flatMap((s) => s.vsLlama));
    console.log(
      `${c.name} on ${r.adapter}: ${(ms.total / 1000).toFixed(1)} s in the page; load ${ms.load.toFixed(0)} ms, prefill ${ref.promptTokens.length} tokens ${ms.prefill.toFixed(0)} ms, splits ${ms.splits.toFixed(0)} ms, decode ${ms.decodePerToken.toFixed(1)} ms/token (reference kernels ${ms.reference.toFixed(0)} ms); worst vs llama.cpp ${vsLlama.toExponential(1)}, vs reference ${r.gpuVsReference.toExponential(1)}, stage ${r.stageVsReference.toExponential(1)}`,
    );
    if (opts.whole) expectNearLlama(r.wholeVsLlama, c.rounding, 'webgpu whole');
    expect(r.splits.map((s) => s.split)).toEqual(c.splits);
    for (const s of r.splits) expectNearLlama(s.vsLlama, c.rounding, `webgpu split ${s.split}`);
    // Stages hand hidden states over exactly, so a split gives the unsplit logits bit for bit.
    expect(r.splitVsWhole).toBe(0);
    expect(r.argmaxMisses, 'positions where the argmax differs from a clear llama.cpp top-1').toEqual([]);
    if (c.largest) return;
    expectNearLlama(r.referenceVsLlama, c.rounding, 'reference kernels in the page');
    expect(r.stageVsReference).toBeLessThan(STAGE_BOUND[c.rounding]);
    expect(r.gpuVsReference).toBeLessThan(LOGPROB_BOUND[c.rounding]);
    expect(r.decodeVsBatch).toBeLessThan(1e-3);
    expect(r.afterTruncate).toBeLessThan(1e-3);
    expect(r.concurrent).toBeLessThan(1e-3);
  });
}
