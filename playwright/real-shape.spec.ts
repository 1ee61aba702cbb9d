// Issue 10, item 5 and issue 14, item 4: a model with Qwen2.5-0.5B-Instruct's exact shapes, metadata and
// llama.cpp Q4_K_M layout (380 MiB), run whole in a tab (the inference worker, WASM threads) and split
// across two server tabs of the companion's mesh, each holding half its 24 layers. Teacher-forced, its
// log-probs are held to the spread between llama.cpp's own builds on this file, measured here: wllama
// (llama.cpp in WASM, in Chromium) against native llama.cpp (node-llama-cpp), by one measure for every
// run (playwright/support/logprobs.ts logprobGap). Whole, the tab's log-probs are also the Node engine's.
// Load time, the split's layout and every gap are printed. In `npm test`: 3 to 4.5 minutes on a busy
// 2-core machine with the model made, 5.5 with making it (its F32 twin stays in test:full: src/engine/real-shape-parity.test.ts).
import { expect, test, type Page } from '@playwright/test';
import { ensureModel } from '../tools/models/registry.ts';
import { disposeReferenceRuntime, promptPrefixes, referenceRun, type ReferenceResult } from '../tools/reference/reference.ts';
import { gotoApp } from './support/app.ts';
import { describeGap, type LogprobGap, logprobGap, type TokenLogprob } from './support/logprobs.ts';
import { meshStackPerFile } from './support/mesh-stack.ts';
import { wllamaTeacherForced } from './support/wllama-page.ts';
import { startWllamaServer } from './support/wllama-server.ts';
import { modelMemory } from '../src/mesh/layer-memory.ts';
import { openModel } from '../src/engine/model.ts';
import { fileSource } from '../src/engine/file-source.ts';
import { statSync } from 'node:fs';
import { createApiContext } from '../src/api/context.ts';
import { handleApiRequest } from '../src/api/handler.ts';
import { post } from '../src/api/testing/requests.ts';
import { Engine } from '../src/engine/engine.ts';
import { EngineProvider } from '../src/provider/engine-provider.ts';
import type { Tokenizer } from '../src/tokenizer/tokenizer.ts';

const MODEL = 'qwen2.5-0.5b-shape-q4_k_m';
/** Long enough that the max over positions is not one position's luck; every token prefix is a start of the text (wllama reads text only). */
const PROMPT =
  'The quick brown fox jumps over the lazy dog. Once upon a time, in a small village by the sea, there lived an old fisherman who went out every morning before the sun rose.';
/** The reference's top-K per position; the runs list more, so each of those is found. */
const TOP_K = 5;
const RUN_TOP = 20;
/**
 * How far over the measured spread ours may land. The spread is one sample of how far two correct
 * llama.cpp builds end up apart once activation rounding flips compound over 24 layers: see the
 * README's parity section for the figures this was set from.
 */
const SAMPLING = 1.5;

test.setTimeout(600_000);
test.describe.configure({ mode: 'serial' });

// Made here, before the stack starts (whose start would otherwise make it, and overrun its 150 s on a cold cache).
test.beforeAll(async () => {
  await ensureModel(MODEL);
});
const mesh = meshStackPerFile('real-shape', MODEL);
test.afterAll(() => disposeReferenceRuntime());

let reference: ReferenceResult | undefined;
let spread: LogprobGap | undefined;

async function theReference(): Promise<ReferenceResult> {
  return (reference ??= await referenceRun({ modelPath: await ensureModel(MODEL), prompt: PROMPT, topK: TOP_K }));
}

/** Ours within SAMPLING times the spread, by each summary of the one measure. */
function expectWithinSpread(ours: LogprobGap, what: string): void {
  const s = spread!;
  const detail = `${what}: ${describeGap(ours)}; llama.cpp WASM vs native: ${describeGap(s)}`;
  console.log(`real-shape: ${detail}`);
  expect(ours.forcedMax, detail).toBeLessThanOrEqual(SAMPLING * s.forcedMax);
  expect(ours.topMax, detail).toBeLessThanOrEqual(SAMPLING * s.topMax);
  expect(ours.forcedMedian, detail).toBeLessThanOrEqual(SAMPLING * s.forcedMedian);
  expect(ours.topMedian, detail).toBeLessThanOrEqual(SAMPLING * s.topMedian);
}

test("the spread: llama.cpp's WASM build (wllama, in Chromium) against its native build, teacher-forced", async ({ page }) => {
  const path = await ensureModel(MODEL);
  const ref = await theReference();
  const server = await startWllamaServer();
  try {
    await page.goto(server.url);
    const prefixes = await promptPrefixes(path, PROMPT, ref.promptTokens);
    // One thread: the numbers do not depend on it (each output is one thread's dot product), and on a
    // busy 2-core machine a second thread spins at every barrier (measured 109 s against 41 s here).
    const run = await wllamaTeacherForced(page, { modelUrl: `/models/${MODEL}.gguf`, tokens: ref.promptTokens, prefixes, topK: RUN_TOP, threads: 1 });
    spread = logprobGap(ref, run, 'wllama');
    console.log(
      `real-shape: wllama ${run.libllama} (${run.threads} threads) loaded in ${run.loadMs.toFixed(0)} ms, scored ${ref.promptTokens.length} positions in ${run.scoreMs.toFixed(0)} ms; vs native: ${describeGap(spread)}`,
    );
    // A spread of zero would make every bound below unmeetable and mean the comparison saw nothing.
    expect(spread.topMax).toBeGreaterThan(0);
  } finally {
    await server.close();
  }
});

/** What each token reads as in the completions API's top_logprobs maps, and those readings several tokens share. */
function readings(tokenizer: Tokenizer): { key: (id: number) => string; shared: Set<string>; ids: Map<string, number> } {
  const decoder = new TextDecoder();
  const key = (id: number) => decoder.decode(tokenizer.tokenToPiece(id, true));
  const ids = new Map<string, number>();
  const shared = new Set<string>();
  for (let id = 0; id < tokenizer.size; id++) {
    const k = key(id);
    if (ids.has(k)) shared.add(k);
    ids.set(k, id);
  }
  return { key, shared, ids };
}

test('whole in a tab: "Use in this tab" loads it into the inference worker; its log-probs are the Node engine\'s, within the spread of llama.cpp', async () => {
  const path = await ensureModel(MODEL);
  const ref = await theReference();
  const tokens = ref.promptTokens;
  const engine = await Engine.load(path, { backend: 'cpu' });
  const ctx = createApiContext({ provider: new EngineProvider([{ id: MODEL, engine }]) });
  const nodeBody = (await (
    await handleApiRequest(post('/v1/completions', { model: MODEL, prompt: tokens, echo: true, max_tokens: 0, logprobs: 1 }), ctx)
  ).json()) as {
    choices: { logprobs: { token_logprobs: (number | null)[] } }[];
  };
  const node = nodeBody.choices[0].logprobs.token_logprobs;
  const text = readings(engine.tokenizer);
  await engine.close();

  const context = await mesh.browser().newContext();
  const page = await context.newPage();
  await gotoApp(page, mesh.stack().urls.app);
  const url = `${mesh.stack().urls.app}/models/${MODEL}.gguf`;
  const bytes = statSync(path).size;
  // Under its own id: the companion serves MODEL itself, and a page's engine answers only what the companion does not.
  // One generated token: its top_logprobs are the distribution after the whole prompt (the reference's last position).
  const r = await page.evaluate(
    async ({ url, bytes, tokens, top }) => {
      const app = (
        window as unknown as {
          meshApp: {
            tabEngine: { use(id: string, url: string, bytes: number): Promise<void>; state: { loadMs?: number; backend?: string } };
            apiFetch(u: string, i: RequestInit): Promise<Response>;
          };
        }
      ).meshApp;
      await app.tabEngine.use('in-this-tab', url, bytes);
      const res = await app.apiFetch('/v1/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'in-this-tab', prompt: tokens, echo: true, max_tokens: 1, temperature: 0, logprobs: top }),
      });
      return { state: app.tabEngine.state, via: res.headers.get('x-mesh-via'), body: await res.json() };
    },
    { url, bytes, tokens, top: RUN_TOP },
  );
  await context.close(); // its worker's 380 MiB would crowd the split's tabs
  expect(r.via).toMatch(/tab$/);
  const lp = (r.body as { choices: { logprobs: { token_logprobs: (number | null)[]; top_logprobs: (Record<string, number> | null)[] } }[] }).choices[0]
    .logprobs;
  expect(lp.token_logprobs).toHaveLength(tokens.length + 1);
  expect(lp.token_logprobs[0]).toBeNull();
  const prompt = lp.token_logprobs.slice(1, tokens.length) as number[];
  const worstVsNode = Math.max(...prompt.map((x, i) => Math.abs(x - node[i + 1]!)));
  expect(worstVsNode).toBeLessThan(1e-3);

  // The maps are keyed by text: a reference token whose text another token shares cannot be told apart, so it is left out.
  const positions = lp.top_logprobs
    .slice(1)
    .map((map) => Object.entries(map!).flatMap(([k, logprob]) => (text.shared.has(k) ? [] : [{ id: text.ids.get(k)!, logprob }])));
  const comparable = { promptLogprobs: ref.promptLogprobs, positions: ref.positions.map((top) => top.filter((t) => !text.shared.has(text.key(t.id)))) };
  const leftOut = ref.positions.flat().length - comparable.positions.flat().length;
  const gap = logprobGap(comparable, { promptLogprobs: prompt, positions }, "the tab's top 20");
  console.log(
    `real-shape: ${MODEL} whole in a tab (${r.state.backend}): loaded in ${r.state.loadMs} ms; ${prompt.length} prompt log-probs within ${worstVsNode.toExponential(1)} of the Node engine; ${leftOut} reference tokens left out (text shared)`,
  );
  expectWithinSpread(gap, 'whole in a tab vs native');
});

test('split across two tabs: each loads only its half, and the mesh scores the prompt within the spread of llama.cpp', async () => {
  const ref = await theReference();
  const file = await openModel(await fileSource(await ensureModel(MODEL)));
  const layers = modelMemory(file.header).layerBytes;
  const budget = Math.floor(Math.max(...layers) * 12.5); // half the layers each, and not one more
  const tabs: Page[] = [];
  for (let i = 0; i < 2; i++) {
    const page = await (await mesh.browser().newContext()).newPage();
    await gotoApp(page, `${mesh.stack().printed.invite}&auto=1&role=server&backend=wasm&budget=${budget}`);
    tabs.push(page);
  }
  const state = (p: Page) =>
    p.evaluate(
      () =>
        (window as unknown as { meshApp: { mesh: { state(): unknown } } }).meshApp.mesh.state() as {
          stage?: { status: string; layers?: { start: number; end: number } };
        },
    );
  await expect
    .poll(
      async () =>
        (await Promise.all(tabs.map(state)))
          .map((s) => (s.stage?.status === 'ready' ? `${s.stage.layers!.start}-${s.stage.layers!.end}` : (s.stage?.status ?? 'none')))
          .sort()
          .join(','),
      { timeout: 300_000 },
    )
    .toBe('0-12,12-24');
  const prober = await (await mesh.browser().newContext()).newPage();
  await gotoApp(prober, `${mesh.stack().printed.invite}&auto=1&role=client`);
  // The whole distribution at each position (teacherForced with k = the vocabulary), cut down in the page
  // to the top RUN_TOP and the forced token's log-prob.
  const score = () =>
    prober.evaluate(
      async ({ tokens, nVocab, top }) => {
        const mesh = (
          window as unknown as {
            meshApp: { mesh: { teacherForced(t: number[], k: number): Promise<TokenLogprob[][]>; state(): { plan?: { stages: unknown[] } } } };
          }
        ).meshApp.mesh;
        for (let i = 0; i < 600 && (mesh.state().plan?.stages.length ?? 0) !== 2; i++) await new Promise((resolve) => setTimeout(resolve, 100));
        const all = await mesh.teacherForced(tokens, nVocab);
        return {
          positions: all.map((p) => p.slice(0, top)),
          promptLogprobs: all.slice(0, -1).map((p, i) => p.find((t) => t.id === tokens[i + 1])!.logprob),
        };
      },
      { tokens: ref.promptTokens, nVocab: ref.settings.nVocab, top: RUN_TOP },
    );
  // On this busy 2-core machine a tab's WebRTC link sometimes dies under its load and takes longer to come
  // back than the probe's own retries wait (measured: 2 of 4 runs): a lost link is tried again; numbers are not.
  let run: Awaited<ReturnType<typeof score>> | undefined;
  for (let attempt = 1; !run; attempt++) {
    try {
      run = await score();
    } catch (error) {
      if (attempt === 3 || !/no link to|no activation stream/.test(String(error))) throw error;
      console.warn(`real-shape: probe attempt ${attempt} lost a link, trying again in 10 s: ${String(error).slice(0, 200)}`);
      await new Promise((resolve) => setTimeout(resolve, 10_000));
    }
  }
  const gap = logprobGap(ref, run, `the mesh's top ${RUN_TOP}`);
  console.log(`real-shape: ${MODEL} split 0-11 | 12-23 across two WASM tabs (budget ${budget} B each)`);
  expectWithinSpread(gap, 'split across two tabs vs native');
});
