// Browser cross-check of the llama.cpp reference: @wllama/wllama (llama.cpp in WASM, in Chromium) must
// pick the same greedy tokens with the same top-K log-probabilities as node-llama-cpp (native).
//
// Tolerance: both are llama.cpp, different builds (native AVX vs WASM SIMD, different releases).
// - F32 weights, and Q8_0/Q4_0/Q5_0 (activations quantized to Q8, integer dot products): logits differ
//   by summation order only (~1e-6). wllama's log-probabilities come from llama-server's float32
//   softmax, whose normalising sum over the vocabulary is off by up to ~1e-4 (measured on
//   node-llama-cpp's identical computation): so 1e-3 on each log-probability, and 2e-4 on differences
//   to the step's top-1, which cancel that normalisation error. Measured: about 2e-6 and 7e-5.
// - F16/BF16 weights: the two builds take different F16 matmul paths; measured up to 6.5e-3 after
//   8 steps (growing with the KV cache), so 1e-2 on both.
import { expect, test } from '@playwright/test';
import { ensureModel } from '../tools/models/registry.ts';
import type { Token } from 'node-llama-cpp';
import { LlamaRuntime, referenceRun, type ReferenceResult } from '../tools/reference/reference.ts';
import { compareWithReference } from './support/wllama-compare.ts';
import { runWllama } from './support/wllama-page.ts';
import { startWllamaServer, type WllamaServer } from './support/wllama-server.ts';

const full = process.env.MESH_TEST_FULL === '1';
const models = full
  ? ['tiny-llama-f32', 'tiny-llama-f16', 'tiny-llama-bf16', 'tiny-llama-q8_0', 'tiny-llama-q4_0', 'tiny-qwen2-f16', 'tiny-qwen3-q8_0', 'tiny-moe-f16']
  : ['tiny-llama-f32'];
// Random-weight models wander into partial UTF-8 tokens (see wholeUtf8Steps): the first prompt whose
// continuation stays whole for at least minSteps tokens is used.
const prompts = ['Once upon a time, in a small village', 'The capital of France is', 'def fibonacci(n):', 'Hello, my name is', 'In 1905, Albert Einstein'];
const minSteps = 3;
const steps = 8;
const topK = 5;

function toleranceFor(name: string) {
  const halfPrecision = /-b?f16$/.test(name);
  return halfPrecision ? { absolute: 1e-2, relative: 1e-2, margin: 0.05 } : { absolute: 1e-3, relative: 2e-4, margin: 0.05 };
}

const runtime = new LlamaRuntime();
let server: WllamaServer;
test.beforeAll(async () => {
  server = await startWllamaServer();
});
test.afterAll(async () => {
  await server?.close();
  await runtime.dispose();
});

/**
 * Greedy steps before the first token that is not whole UTF-8 on its own (a byte-fallback or partial
 * byte-level BPE token): wllama 3.8 fails to return a completion whose text holds such a piece
 * ("Invalid typed array length" in its worker), so the comparison stops short of it.
 */
async function wholeUtf8Steps(modelPath: string, ref: ReferenceResult): Promise<number> {
  const model = await runtime.model(modelPath);
  const broken = ref.greedy.findIndex((g) => model.detokenize([g.token as Token]).includes('\uFFFD'));
  return broken === -1 ? ref.greedy.length : broken;
}

for (const name of models) {
  test(`wllama agrees with the node-llama-cpp reference on ${name}`, async ({ page }) => {
    const modelPath = await ensureModel(name);
    let prompt = '',
      ref: ReferenceResult | undefined,
      usable = 0;
    for (const candidate of prompts) {
      prompt = candidate;
      ref = await referenceRun({ modelPath, prompt, topK, greedySteps: steps }, runtime);
      usable = await wholeUtf8Steps(modelPath, ref);
      if (usable >= minSteps) break;
    }
    expect(usable, 'every candidate prompt runs into a partial UTF-8 token: add prompts').toBeGreaterThanOrEqual(minSteps);
    await page.goto(server.url);
    const run = await runWllama(page, { modelUrl: `/models/${name}.gguf`, prompt, steps: usable, topK, threads: 2 });
    test.info().annotations.push({
      type: 'wllama',
      description: `${run.libllama}, ${run.threads} threads: load ${run.loadMs.toFixed(0)} ms, ${usable} steps ${run.completionMs.toFixed(0)} ms, prompt ${JSON.stringify(prompt)}`,
    });

    expect(run.crossOriginIsolated).toBe(true);
    expect(run.multithread).toBe(true);
    expect(run.promptTokens).toBe(ref!.promptTokens.length);
    expect(run.steps).toHaveLength(usable);
    const { mismatches, compared } = compareWithReference(ref!, run.steps, toleranceFor(name));
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(0);
  });
}
