// The weight cache in Chromium's real IndexedDB: a model loaded through it a second time fetches no
// bytes, an aborted download resumes where it stopped, and eviction keeps the budget; a model the
// Models view downloaded loads in the inference worker and as a mesh stage with no body bytes, and
// the layers a stage read show in the Models view. Models are served by a Range-capable middleware
// that counts the requests and body bytes it sends.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { expect, test } from '@playwright/test';
import { createServer, type ViteDevServer } from 'vite';
import { ensureModel } from '../tools/models/registry.ts';

let server: ViteDevServer;
let base = '';
let served = 0;
/** Requests to model files by method: HEAD is the metadata every open asks for, GET carries bytes. */
const requests = { HEAD: 0, GET: 0 };
const files = new Map<string, Uint8Array>();

function models(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  const body = files.get(new URL(req.url!, 'http://x').pathname);
  if (!body) {
    next();
    return;
  }
  const headers = { etag: `"${body.byteLength}"`, 'accept-ranges': 'bytes' };
  if (req.method === 'HEAD' || req.method === 'GET') requests[req.method]++;
  if (req.method === 'HEAD') {
    res.writeHead(200, { ...headers, 'content-length': body.byteLength }).end();
    return;
  }
  const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
  const a = m ? Number(m[1]) : 0,
    b = m ? Math.min(Number(m[2]), body.byteLength - 1) : body.byteLength - 1;
  served += b - a + 1;
  res.writeHead(m ? 206 : 200, { ...headers, 'content-length': b - a + 1, ...(m ? { 'content-range': `bytes ${a}-${b}/${body.byteLength}` } : {}) });
  res.end(body.subarray(a, b + 1));
}

test.beforeAll(async () => {
  files.set('/models/tiny.gguf', new Uint8Array(readFileSync(await ensureModel('tiny-llama-q8_0'))));
  server = await createServer({
    configFile: false,
    root: new URL('..', import.meta.url).pathname,
    logLevel: 'error',
    server: { host: '127.0.0.1', port: 0, hmr: false },
    worker: { format: 'es' },
    plugins: [
      {
        name: 'models',
        configureServer: (s) => {
          s.middlewares.use(models);
        },
      },
    ],
  });
  await server.listen();
  const address = server.httpServer!.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

test.afterAll(async () => {
  await server?.close();
});

test('a second load of a model through the cache fetches zero bytes, with identical logits', async ({ page }) => {
  await page.goto(`${base}/playwright/support/weight-cache.html`);
  const run = () =>
    page.evaluate(async () => {
      const { WeightCache } = await import('/src/storage/weight-cache.ts' as string);
      const { cachedUrlSource } = await import('/src/storage/cached-source.ts' as string);
      const { Engine } = await import('/src/engine/engine.ts' as string);
      const cache = await WeightCache.open({ name: 'spec-load', chunkSize: 1 << 20 });
      const source = await cachedUrlSource(cache, `${location.origin}/models/tiny.gguf`);
      const engine = await Engine.load(source);
      const logits: Float32Array = await engine.createSession().extend(engine.tokenize('Once upon a time'), { logits: 'last' });
      await engine.close();
      const usage = await cache.usage();
      cache.close();
      return { fetched: source.stats.fetchedBytes, logits: Array.from(logits.slice(0, 64)), stored: usage.totalBytes };
    });
  served = 0;
  const first = await run();
  expect(first.fetched).toBeGreaterThan(1 << 20);
  expect(served).toBe(first.fetched);
  served = 0;
  await page.reload();
  const second = await run();
  expect(second.fetched).toBe(0);
  expect(served).toBe(0);
  expect(second.logits).toEqual(first.logits);
});

test('an aborted download resumes from where it stopped; eviction keeps the budget', async ({ page }) => {
  await page.goto(`${base}/playwright/support/weight-cache.html`);
  const size = files.get('/models/tiny.gguf')!.byteLength;
  served = 0;
  const aborted = await page.evaluate(async () => {
    const { WeightCache } = await import('/src/storage/weight-cache.ts' as string);
    const { downloadModel } = await import('/src/storage/download.ts' as string);
    const cache = await WeightCache.open({ name: 'spec-resume', chunkSize: 256 << 10 });
    const abort = new AbortController();
    const error = await downloadModel(cache, `${location.origin}/models/tiny.gguf`, {
      signal: abort.signal,
      maxRequestBytes: 256 << 10,
      onProgress: (p: { bytesDone: number; bytesTotal: number }) => {
        if (p.bytesDone > p.bytesTotal / 2) abort.abort();
      },
    }).then(
      () => 'finished',
      (e: Error) => e.name,
    );
    const stored = (await cache.usage()).totalBytes;
    cache.close();
    return { error, stored };
  });
  expect(aborted.error).toBe('AbortError');
  expect(aborted.stored).toBe(served);
  expect(aborted.stored).toBeLessThan(size);
  served = 0;
  await page.reload();
  const resumed = await page.evaluate(async () => {
    const { WeightCache } = await import('/src/storage/weight-cache.ts' as string);
    const { downloadModel } = await import('/src/storage/download.ts' as string);
    const cache = await WeightCache.open({ name: 'spec-resume', chunkSize: 256 << 10 });
    const first: unknown[] = [];
    const done = await downloadModel(cache, `${location.origin}/models/tiny.gguf`, {
      onProgress: (p: unknown) => {
        if (first.length === 0) first.push(p);
      },
    });
    const usage = await cache.usage();
    // Eviction: with a budget of 1.5 files, a second model (same bytes, another URL) evicts the first.
    const small = await WeightCache.open({ name: 'spec-resume', budgetBytes: usage.totalBytes * 1.5 });
    await downloadModel(small, `${location.origin}/models/tiny.gguf?copy=2`);
    const after = await small.usage();
    small.close();
    cache.close();
    return {
      first: first[0],
      done,
      complete: usage.models[0].complete,
      after: { total: after.totalBytes, budget: after.budgetBytes, urls: after.models.map((m: { url: string }) => m.url) },
    };
  });
  expect(resumed.first).toMatchObject({ bytesDone: aborted.stored, bytesTotal: size, bytesFetched: 0 });
  expect(resumed.done).toMatchObject({ bytesDone: size, bytesFetched: size - aborted.stored });
  expect(resumed.complete).toBe(true);
  expect(resumed.after.urls).toEqual([`${base}/models/tiny.gguf?copy=2`]);
  expect(resumed.after.total).toBeLessThanOrEqual(resumed.after.budget);
});

test('a model the Models view downloaded loads in the inference worker and as a mesh stage with zero body bytes', async ({ page }) => {
  await page.goto(`${base}/playwright/support/weight-cache.html`);
  const size = files.get('/models/tiny.gguf')!.byteLength;
  served = 0;
  const downloaded = await page.evaluate(async () => {
    const { ModelsManager } = await import('/src/client/models-manager.ts' as string);
    const { customModel } = await import('/src/client/models-catalog.ts' as string);
    const { sharedWeightCache } = await import('/src/storage/shared-cache.ts' as string);
    const manager = new ModelsManager({ cache: sharedWeightCache, origin: location.origin });
    manager.addCustom(customModel('/models/tiny.gguf', location.origin));
    await manager.download('tiny');
    manager.close();
    return manager.entry('tiny');
  });
  expect(downloaded).toMatchObject({ state: 'done', received: size, total: size, fetchedThisRun: size });
  expect(served).toBe(size);

  // A reload (a fresh page, as when the tab later contributes), then the engine's two loading paths.
  await page.reload();
  served = 0;
  requests.HEAD = requests.GET = 0;
  const loaded = await page.evaluate(async () => {
    const { WorkerEngine } = await import('/src/engine/worker-client.ts' as string);
    const { openModelUrl } = await import('/src/storage/shared-cache.ts' as string);
    const { openModel } = await import('/src/engine/model.ts' as string);
    const { openStage } = await import('/src/engine/stage.ts' as string);
    const url = `${location.origin}/models/tiny.gguf`;
    // The inference worker (the playground's or a contributing tab's engine)...
    const engine = await WorkerEngine.load(url, { backend: 'cpu' });
    const tokens: number[] = [];
    for await (const ev of engine.generate({ promptTokens: await engine.tokenize('Once upon a time'), maxTokens: 4, sampling: { temperature: 0 } }))
      if (ev.type === 'token') tokens.push(ev.token);
    engine.terminate();
    // ...and a mesh tab's stage (src/client/mesh-join.ts opens the published model the same way).
    const source = await openModelUrl(url);
    await openStage(await openModel(source), 0, 2);
    return { tokens: tokens.length, cached: source.cached };
  });
  expect(loaded).toEqual({ tokens: 4, cached: true });
  expect(served).toBe(0);
  expect(requests.GET).toBe(0);
  expect(requests.HEAD).toBe(2); // one per open: the size and ETag that name the cached copy

  // A stage that loads layers of a model never downloaded fetches only those; the Models view lists them.
  served = 0;
  const partial = await page.evaluate(async () => {
    const { WorkerEngine } = await import('/src/engine/worker-client.ts' as string);
    const { ModelsManager } = await import('/src/client/models-manager.ts' as string);
    const { sharedWeightCache } = await import('/src/storage/shared-cache.ts' as string);
    const engine = await WorkerEngine.load(`${location.origin}/models/tiny.gguf?copy=stage`, { backend: 'cpu', stage: [1, 2] });
    engine.terminate();
    const manager = new ModelsManager({ cache: sharedWeightCache, origin: location.origin });
    await manager.load();
    manager.close();
    return manager.entries().filter((e: { model: { url: string } }) => e.model.url.endsWith('?copy=stage'));
  });
  expect(partial).toHaveLength(1);
  expect(partial[0]).toMatchObject({ state: 'paused', total: size, model: { source: 'custom' } });
  expect(partial[0].received).toBe(served);
  expect(partial[0].received).toBeGreaterThan(0);
  expect(partial[0].received).toBeLessThan(size / 2);
});
