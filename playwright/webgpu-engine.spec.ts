// The WebGPU backend in headless Chromium (SwiftShader here): teacher-forced top-5 log-probs against
// llama.cpp (computed in this process) whole and split into 2 stages, against the reference kernels
// in the same page, and the KV cache paths (decode one token at a time, truncate and extend again).
import { expect, test } from '@playwright/test';
import { ensureModel } from '../tools/models/registry.ts';
import { disposeReferenceRuntime, referenceRun } from '../tools/reference/reference.ts';
import type { WebGpuParity } from './support/webgpu-page.ts';
import { startWebGpuTestServer, type TestServer } from './support/webgpu-server.ts';

const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time';
/** As src/engine/parity.test.ts: 5e-3 everywhere; with quantized activations one position may reach 2e-2. */
const TOLERANCE = 5e-3;
const FLIP_TOLERANCE = 2e-2;
const MODELS: [name: string, quantizedActivations: boolean][] = [
  ['tiny-llama-f32', false], ['tiny-llama-q8_0', true], ['small-llama-q4_k', true],
  ...(process.env.MESH_TEST_FULL === '1' ? [
    ['tiny-llama-f16', false], ['tiny-llama-bf16', false], ['tiny-llama-q4_0', true], ['tiny-llama-q5_0', true],
    ['small-llama-q5_k', true], ['small-llama-q6_k', true], ['small-llama-q4_k_m', true], ['tiny-qwen3-q8_0', true],
    // tiny-qwen2-f16 is left out until its stage difference (2e-4 relative to the reference kernels,
    // 4.8e-3 in log-prob to llama.cpp: inside the bar, but far from the 3e-6 of every other model) is found.
  ] as [string, boolean][] : []),
];

let server: TestServer;

test.beforeAll(async () => {
  server = await startWebGpuTestServer();
});

test.afterAll(async () => {
  await server?.close();
  await disposeReferenceRuntime();
});

function expectNearLlama(worst: number[], quantized: boolean, what: string): void {
  const over = worst.filter((w) => w >= TOLERANCE);
  const detail = `${what}: ${worst.map((w) => w.toExponential(1)).join(' ')}`;
  expect(over.length, detail).toBeLessThanOrEqual(quantized ? 1 : 0);
  expect(Math.max(...worst), detail).toBeLessThan(quantized ? FLIP_TOLERANCE : TOLERANCE);
}

for (const [name, quantized] of MODELS) {
  test(`${name}: WebGPU matches llama.cpp and the reference kernels, whole, split and decoding`, async ({ page }) => {
    const path = await ensureModel(name);
    const ref = await referenceRun({ modelPath: path, prompt: PROMPT, topK: 5 });
    expect(ref.promptTokens.length).toBeGreaterThan(10);
    await page.goto(`${server.base}/playwright/support/webgpu.html`);
    const url = `${server.base}/models/${name}.gguf`;
    const r: WebGpuParity = await page.evaluate(async ({ url, ref }) => {
      const { webgpuParity } = await import('/playwright/support/webgpu-page.ts' as string);
      return webgpuParity(url, ref);
    }, { url, ref: { promptTokens: ref.promptTokens, positions: ref.positions } });
    console.log(`${name} on ${r.adapter}: load ${r.ms.load.toFixed(0)} ms, prefill ${ref.promptTokens.length} tokens ${r.ms.prefill.toFixed(0)} ms, decode ${r.ms.decodePerToken.toFixed(1)} ms/token (reference kernels ${r.ms.reference.toFixed(0)} ms); worst vs llama.cpp ${Math.max(...r.wholeVsLlama).toExponential(1)}, vs reference ${r.gpuVsReference.toExponential(1)}, stage ${r.stageVsReference.toExponential(1)}`);
    expectNearLlama(r.referenceVsLlama, quantized, 'reference kernels in the page');
    expectNearLlama(r.wholeVsLlama, quantized, 'webgpu whole');
    expectNearLlama(r.splitVsLlama, quantized, 'webgpu split in 2');
    expect(r.argmaxMisses, 'positions where the argmax differs from a clear llama.cpp top-1').toEqual([]);
    expect(r.stageVsReference).toBeLessThan(quantized ? 2e-2 : 1e-4);
    expect(r.gpuVsReference).toBeLessThan(quantized ? FLIP_TOLERANCE : 1e-3);
    expect(r.decodeVsBatch).toBeLessThan(1e-3);
    expect(r.afterTruncate).toBeLessThan(1e-3);
  });
}
