// Where the inference worker's time goes in Chromium (not a test): V8's sampling profiler on the worker,
// reached over CDP, during a load from the weight cache (a second load in the same worker, after a
// first one over HTTP filled the cache) or a decode round. Prints self time per function, heaviest
// first; samples are CPU time of the worker's thread, so a loaded machine moves them less than wall
// time ('(idle)' is the worker waiting: on IndexedDB, the network or its thread pool's helpers).
//   node tools/bench/worker-profile.ts [load|decode] [--model qwen2.5-0.5b-shape-q4_k_m] [--top 25] [--out file.cpuprofile]
import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { chromiumLaunchOptions } from '../../playwright/support/browser.ts';
import { benchRound, benchSetup, benchTeardown } from '../../playwright/support/engine-page.ts';
import { startEngineTestServer } from '../../playwright/support/engine-server.ts';
import { ensureModel } from '../models/registry.ts';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const WHAT = args[0] === 'decode' ? 'decode' : 'load';
const MODEL = opt('model', 'qwen2.5-0.5b-shape-q4_k_m');
const TOP = Number(opt('top', '25'));

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

async function main(): Promise<void> {
  await ensureModel(MODEL);
  const url = `/models/${MODEL}.gguf`;
  const server = await startEngineTestServer(true);
  const browser = await chromium.launch(chromiumLaunchOptions());
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.base}/playwright/support/engine-blank.html`);
    await benchSetup(page, { modelUrl: url, threads: 2 });
    // The worker is a target of the browser; its messages go through the (non-flat) session API.
    const cdp = await browser.newBrowserCDPSession();
    let next = 1;
    const pending = new Map<number, (m: { result?: unknown }) => void>();
    cdp.on('Target.receivedMessageFromTarget', (e: { message: string }) => {
      const m = JSON.parse(e.message) as { id?: number; result?: unknown };
      if (m.id !== undefined) pending.get(m.id)?.(m);
    });
    const { targetInfos } = await cdp.send('Target.getTargets');
    const worker = targetInfos.find((t) => t.type === 'worker' && t.url.includes('inference-worker'));
    if (!worker) throw new Error('the inference worker is not among the browser targets');
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId: worker.targetId, flatten: false });
    const send = (method: string, params: object = {}) =>
      new Promise<{ result?: unknown }>((resolve) => {
        const id = next++;
        pending.set(id, resolve);
        void cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) }).catch(() => resolve({}));
      });
    await send('Profiler.enable');
    await send('Profiler.setSamplingInterval', { interval: 500 });
    await send('Profiler.start');
    const t0 = performance.now();
    if (WHAT === 'load') {
      await page.evaluate(async (u) => {
        const engine = (globalThis as { benchEngine?: { load(u: string, o: object): Promise<unknown> } }).benchEngine!;
        await engine.load(u, { threads: 2, maxPositions: 1024 });
      }, url);
    } else {
      const tokens = Array.from({ length: 100 }, (_, i) => 100 + ((i * 7919) % 1000));
      await benchRound(page, tokens, 32);
    }
    const wallMs = performance.now() - t0;
    const profile = ((await send('Profiler.stop')).result as { profile: Profile }).profile;
    if (args.includes('--out')) writeFileSync(opt('out', 'worker.cpuprofile'), JSON.stringify(profile));
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map<string, number>();
    profile.samples.forEach((id, i) => {
      const f = byId.get(id)!.callFrame;
      const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()?.replace(/\?.*$/, '') ?? ''}:${f.lineNumber + 1}`;
      self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
    });
    const total = [...self.values()].reduce((a, b) => a + b, 0);
    console.log(`${MODEL} ${WHAT} in the inference worker: ${wallMs.toFixed(0)} ms on the page's clock, ${total.toFixed(0)} ms of samples; self time:`);
    for (const [k, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
      console.log(`${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${k}`);
    }
    await benchTeardown(page);
  } finally {
    await browser.close();
    await server.close();
  }
}

await main();
