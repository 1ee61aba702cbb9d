// The engine in a browser Worker, in Chromium: on a cross-origin isolated page the inference worker
// picks the threaded WASM backend and matches llama.cpp's teacher-forced log-probs and greedy tokens
// on a tiny model; a corrupt file gives a coded error and the worker keeps serving; aborting works.
// Without isolation the same page runs single-threaded.
import { worstLogprobGap } from './support/logprobs.ts';
import { expect, test } from '@playwright/test';
import { ensureModel } from '../tools/models/registry.ts';
import { disposeReferenceRuntime, referenceRun } from '../tools/reference/reference.ts';
import { scoreInWorker } from './support/engine-page.ts';
import { startEngineTestServer, type EngineTestServer } from './support/engine-server.ts';

const MODEL = 'tiny-llama-f32';
const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time';
const TOLERANCE = 5e-3; // the bar for F32 weights
const CLEAR_MARGIN = 0.05;
const STEPS = 10;

let isolated: EngineTestServer;
let plain: EngineTestServer;
let modelPath: string;

test.beforeAll(async () => {
  modelPath = await ensureModel(MODEL);
  isolated = await startEngineTestServer(true);
  plain = await startEngineTestServer(false);
});

test.afterAll(async () => {
  await Promise.all([isolated?.close(), plain?.close()]);
  await disposeReferenceRuntime();
});

test('the inference worker matches llama.cpp on a cross-origin isolated page, threaded, and survives a bad file', async ({ page }) => {
  const ref = await referenceRun({ modelPath, prompt: PROMPT, topK: 5, greedySteps: STEPS });
  await page.goto(`${isolated.base}/playwright/support/engine-blank.html`);
  const r = await scoreInWorker(page, { modelUrl: `/models/${MODEL}.gguf`, prompt: PROMPT, topK: 10, greedySteps: STEPS, threads: 2 });
  expect(r.crossOriginIsolated).toBe(true);
  expect(r.backend).toBe('cpu');
  expect(r.threads).toBe(2);
  expect(r.lastProgress.phase).toBe('ready');
  expect(r.lastProgress.bytesLoaded).toBeGreaterThan(0);

  expect(r.promptTokens).toEqual(ref.promptTokens);
  const worst = worstLogprobGap(ref.positions, r.positions, 'our top 10');
  expect(worst).toBeLessThan(TOLERANCE);
  const clear = ref.greedy.findIndex((s) => s.margin < CLEAR_MARGIN);
  const n = clear < 0 ? STEPS : clear;
  expect(n).toBeGreaterThan(3);
  expect(r.greedy.slice(0, n)).toEqual(ref.greedy.slice(0, n).map((s) => s.token));

  expect(r.badModel.code).toMatch(/^gguf_/);
  expect(r.badModel.message.length).toBeGreaterThan(20);
  expect(r.afterBad).toBe(ref.promptTokens.length);
  expect(r.aborted).toBe('AbortError');
});

test('without cross-origin isolation the worker runs single-threaded with the same numbers', async ({ page }) => {
  const ref = await referenceRun({ modelPath, prompt: PROMPT, topK: 5, greedySteps: STEPS });
  await page.goto(`${plain.base}/playwright/support/engine-blank.html`);
  const r = await scoreInWorker(page, { modelUrl: `/models/${MODEL}.gguf`, prompt: PROMPT, topK: 5, greedySteps: 4 });
  expect(r.crossOriginIsolated).toBe(false);
  expect(r.threads).toBe(1);
  ref.positions.forEach((top, i) => expect(Math.abs(r.positions[i][0].logprob - top[0].logprob)).toBeLessThan(TOLERANCE));
});
