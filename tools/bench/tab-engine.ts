// Our engine in Chromium's inference worker alone (not a test): load over HTTP into the weight cache,
// then in a fresh page load from the cache to ready, decode tokens/s through the worker's own sampler
// (engine.generate) and through the page's (a WorkerProvider session: one extend per token), and the
// fresh page's renderer peak memory against weights + KV cache. A quick check of the tab figures of
// `npm run bench:engine`'s `engine-0.5b:` line, without wllama and native beside it.
//   node tools/bench/tab-engine.ts [--model qwen2.5-0.5b-shape-q4_k_m] [--gen 32] [--runs 2] [--threads 2]
import { readFileSync, statSync } from 'node:fs';
import { chromium, type Page } from 'playwright-core';
import { chromiumLaunchOptions } from '../../playwright/support/browser.ts';
import { benchRound, benchSetup, benchTeardown } from '../../playwright/support/engine-page.ts';
import { startEngineTestServer } from '../../playwright/support/engine-server.ts';
import { fileSource } from '../../src/engine/file-source.ts';
import { modelConfig } from '../../src/engine/config.ts';
import { readGgufHeader } from '../../src/gguf/reader.ts';
import { ensureModel } from '../models/registry.ts';
import { MB } from './peak-memory.ts';
import { newRenderers, peakRss, rendererPids } from './process-memory.ts';
import { median } from './stats.ts';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const MODEL = opt('model', 'qwen2.5-0.5b-shape-q4_k_m');
const GEN = Number(opt('gen', '32'));
const RUNS = Number(opt('runs', '2'));
const THREADS = Number(opt('threads', '2'));
/** The bench's context (benchSetup's maxPositions). */
const POSITIONS = 1024;

/** Decode tokens/s with sampling on the page: one extend per token, a row of logits back each time (WorkerProvider's path). */
async function pageSampledDecode(page: Page, prompt: number[], gen: number): Promise<number> {
  return page.evaluate(
    async (o) => {
      type Session = { extend(t: number[], x: object): Promise<Float32Array>; free(): Promise<void> };
      const engine = (globalThis as { benchEngine?: unknown }).benchEngine as { createSession(): Promise<Session> };
      const s = await engine.createSession();
      let logits = await s.extend(o.prompt, { logits: 'last' });
      const argmax = (l: Float32Array) => {
        let best = 0;
        for (let i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
        return best;
      };
      let t0 = 0;
      for (let i = 0; i <= o.gen; i++) {
        if (i === 1) t0 = performance.now();
        logits = await s.extend([argmax(logits)], { logits: 'last' });
      }
      const tokS = o.gen / ((performance.now() - t0) / 1000);
      await s.free();
      return tokS;
    },
    { prompt, gen },
  );
}

async function main(): Promise<void> {
  const path = await ensureModel(MODEL);
  const url = `/models/${MODEL}.gguf`;
  const source = await fileSource(path);
  const header = await readGgufHeader(source);
  await source.close();
  const c = modelConfig(header);
  const weightBytes = header.tensors.reduce((s, t) => s + t.byteSize, 0);
  const kvBytes = c.nLayer * 2 * c.nHeadKv * c.headDim * POSITIONS * 4;
  const prompt = Array.from({ length: 100 }, (_, i) => 100 + ((i * 7919) % 1000));
  const server = await startEngineTestServer(true);
  const browser = await chromium.launch(chromiumLaunchOptions());
  try {
    const context = await browser.newContext();
    const first = await context.newPage();
    await first.goto(`${server.base}/playwright/support/engine-blank.html`);
    const http = await benchSetup(first, { modelUrl: url, threads: THREADS });
    await benchTeardown(first);
    await first.close();

    const before = rendererPids();
    const page = await context.newPage();
    await page.goto(`${server.base}/playwright/support/engine-blank.html`);
    const cached = await benchSetup(page, { modelUrl: url, threads: THREADS });
    const renderers = newRenderers(before);
    const loadedPeak = peakRss(renderers);
    const rss = () => renderers.map((p) => /VmRSS:\s*(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1]).join(',');
    console.log(`renderers ${renderers.join(',')}: VmRSS kB after load ${rss()}`);
    const worker: number[] = [];
    const paged: number[] = [];
    for (let r = 0; r < RUNS + 1; r++) {
      const w = (await benchRound(page, prompt, GEN)).decode;
      if (r > 0) worker.push(w); // round 0 warms up
    }
    // The peak as bench:engine takes it (load and worker-sampled rounds), before the page-sampled rounds' logits.
    const peak = peakRss(renderers);
    console.log(`VmRSS kB after decoding ${rss()}`);
    for (let r = 0; r < RUNS + 1; r++) {
      const p = await pageSampledDecode(page, prompt, GEN);
      if (r > 0) paged.push(p);
    }
    await benchTeardown(page);
    const fileBytes = statSync(path).size;
    const ratio = (b: number | undefined) => (b === undefined ? Number.NaN : (b - 100 * MB) / (weightBytes + kvBytes));
    console.log(
      `${MODEL}: weights ${(weightBytes / MB).toFixed(0)} MB, KV ${(kvBytes / MB).toFixed(0)} MB; load over HTTP ${http.loadMs.toFixed(0)} ms, ` +
        `from the cache ${cached.loadMs.toFixed(0)} ms (after the worker's start, ${cached.startMs.toFixed(0)} ms); renderer peak after load ${((loadedPeak ?? 0) / MB).toFixed(0)} MB [${ratio(loadedPeak).toFixed(2)}], ` +
        `after decoding ${((peak ?? 0) / MB).toFixed(0)} MB`,
    );
    console.log(
      `tab: load_mb_s=${(fileBytes / MB / (cached.loadMs / 1000)).toFixed(0)} peak_mem/weights=${ratio(peak).toFixed(2)} ` +
        `decode_worker_sampled=${median(worker).toFixed(1)} decode_page_sampled=${median(paged).toFixed(1)} tok/s`,
    );
  } finally {
    await browser.close();
    await server.close();
  }
}

await main();
