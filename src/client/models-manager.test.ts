// The Models view's state over the weight cache (fake-indexeddb), with a fetch that serves GGUFs by
// range: download, pause and resume after a "reload", failures explained, bytes an engine read shown
// as a partly stored model, split shards as one model, eviction said, delete frees the cache.
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { GgmlType } from '../gguf/ggml-types.ts';
import { encodeGguf, gguf as ggufValue } from '../gguf/writer.ts';
import { cachedUrlSource } from '../storage/cached-source.ts';
import { WeightCache } from '../storage/weight-cache.ts';
import { ModelsManager } from './models-manager.ts';

const ORIGIN = 'http://app.test';
const TINY = 'tiny-llama-q8_0';

/** A GGUF of about `n` bytes: one F32 tensor of patterned bytes. */
function ggufFile(n: number, seed = 0): Uint8Array {
  const data = new Uint8Array(n).map((_, i) => (i * 7 + seed) & 255);
  return encodeGguf({ metadata: [['general.name', ggufValue.string(`blob ${seed}`)]], tensors: [{ name: 'blob', shape: [n / 4], type: GgmlType.F32, data }] });
}

/** Serves files by absolute URL with HEAD and ranges, each GET after 20 ms (so progress is seen between requests). */
function server(files: Record<string, Uint8Array>) {
  let bytes = 0;
  const fetchFn = (async (input: string, init?: RequestInit) => {
    const file = files[String(input)];
    if (!file) return new Response('no', { status: 404 });
    const headers = { etag: `"${file.byteLength}"`, 'content-length': String(file.byteLength) };
    if (init?.method === 'HEAD') return new Response(null, { headers });
    await new Promise((r) => setTimeout(r, 20));
    init?.signal?.throwIfAborted();
    const [, a, b] = /bytes=(\d+)-(\d+)/.exec(new Headers(init?.headers).get('range')!)!;
    const end = Math.min(file.byteLength - 1, Number(b));
    bytes += end - Number(a) + 1;
    return new Response(file.slice(Number(a), end + 1), { status: 206, headers: { 'content-range': `bytes ${a}-${end}/${file.byteLength}` } });
  }) as unknown as typeof fetch;
  return { fetchFn, sent: () => bytes };
}

let db = 0;
const open: (WeightCache | ModelsManager)[] = [];
afterEach(() => {
  for (const x of open.splice(0)) x.close();
});

async function setup(files: Record<string, Uint8Array>, budgetBytes?: number) {
  const name = `models-${db++}`;
  const cache = await WeightCache.open({ name, chunkSize: 64 << 10, budgetBytes });
  const srv = server(files);
  const make = () => {
    const m = new ModelsManager({ cache: async () => cache, fetch: srv.fetchFn, origin: ORIGIN });
    open.push(m);
    return m;
  };
  open.push(cache);
  return { cache, srv, make };
}

describe('ModelsManager over the weight cache', () => {
  it('downloads a catalog model to done with progress, and delete frees the cache', async () => {
    const file = ggufFile(3 << 20); // opening reads the first MiB (the header); the rest comes in eighths
    const { cache, make } = await setup({ [`${ORIGIN}/models/${TINY}.gguf`]: file });
    const manager = make();
    const seen: { state: string; received: number }[] = [];
    manager.subscribe(() => seen.push({ state: manager.entry(TINY)!.state, received: manager.entry(TINY)!.received }));
    await manager.download(TINY);
    expect(manager.entry(TINY)).toMatchObject({
      state: 'done',
      received: file.byteLength,
      total: file.byteLength,
      fetchedThisRun: file.byteLength,
      error: null,
    });
    expect(seen[0].state).toBe('downloading');
    expect(seen.filter((s) => s.state === 'downloading' && s.received > 0 && s.received < file.byteLength).length).toBeGreaterThan(0);
    expect((await manager.storageUse()).cacheBytes).toBe(file.byteLength);
    await manager.delete(TINY);
    expect(manager.entry(TINY)!.state).toBe('none');
    expect((await cache.usage()).totalBytes).toBe(0);
  });

  it('pauses, and a fresh manager (a reload) shows what is stored as paused and resumes from it', async () => {
    const file = ggufFile(3 << 20);
    const { srv, make } = await setup({ [`${ORIGIN}/models/${TINY}.gguf`]: file });
    const manager = make();
    manager.subscribe(() => {
      if (manager.entry(TINY)!.received > file.byteLength / 2) manager.pause(TINY);
    });
    await manager.download(TINY);
    const paused = manager.entry(TINY)!;
    expect(paused.state).toBe('paused');
    expect(paused.received).toBeGreaterThan(0);
    expect(paused.received).toBeLessThan(file.byteLength);

    const reloaded = make();
    await reloaded.load();
    expect(reloaded.entry(TINY)).toMatchObject({ state: 'paused', received: paused.received, total: file.byteLength });
    const before = srv.sent();
    await reloaded.download(TINY);
    expect(reloaded.entry(TINY)).toMatchObject({ state: 'done', fetchedThisRun: file.byteLength - paused.received });
    expect(srv.sent() - before).toBe(file.byteLength - paused.received);
  });

  it('shows a failed download as an error with the reason', async () => {
    const cache = await WeightCache.open({ name: `models-${db++}` });
    open.push(cache);
    const manager = new ModelsManager({
      cache: async () => cache,
      origin: ORIGIN,
      fetch: (async () => {
        throw new TypeError('Failed to fetch');
      }) as typeof fetch,
    });
    open.push(manager);
    await manager.download('qwen2.5-0.5b-instruct-q4_k_m');
    expect(manager.entry('qwen2.5-0.5b-instruct-q4_k_m')).toMatchObject({ state: 'error' });
    expect(manager.entry('qwen2.5-0.5b-instruct-q4_k_m')!.error).toMatch(/huggingface\.co.*internet/);
  });

  it('lists what an engine read as a partly stored model, custom URLs by name, split shards as one model', async () => {
    const tiny = ggufFile(512 << 10, 1),
      mine = ggufFile(128 << 10, 2),
      s1 = ggufFile(128 << 10, 3),
      s2 = ggufFile(128 << 10, 4);
    const urls = {
      tiny: `${ORIGIN}/models/${TINY}.gguf`,
      mine: 'https://example.com/m/mine.gguf',
      s1: 'https://example.com/s/big-00001-of-00002.gguf',
      s2: 'https://example.com/s/big-00002-of-00002.gguf',
    };
    const { cache, srv, make } = await setup({ [urls.tiny]: tiny, [urls.mine]: mine, [urls.s1]: s1, [urls.s2]: s2 });
    // A mesh stage reads a few layers' bytes of the bundled model; someone downloaded two other files whole.
    await (await cachedUrlSource(cache, urls.tiny, { fetch: srv.fetchFn })).read(200 << 10, 100 << 10);
    for (const url of [urls.mine, urls.s1, urls.s2]) await (await cachedUrlSource(cache, url, { fetch: srv.fetchFn })).read(0, 1 << 30);
    const manager = make();
    await manager.load();
    const partial = manager.entry(TINY)!;
    expect(partial.state).toBe('paused');
    expect(partial.received).toBeGreaterThan(0);
    expect(partial.received).toBeLessThan(tiny.byteLength);
    expect(manager.entry('mine')).toMatchObject({
      state: 'done',
      received: mine.byteLength,
      model: { source: 'custom', title: 'mine.gguf', note: 'example.com' },
    });
    expect(manager.entry('big-00001-of-00002')).toMatchObject({ state: 'done', received: s1.byteLength + s2.byteLength });
    expect(manager.entries().filter((e) => e.model.source === 'custom')).toHaveLength(2);
    await manager.delete('big-00001-of-00002');
    expect((await cache.usage()).models.map((m) => m.url).sort()).toEqual([urls.mine, urls.tiny].sort());
  });

  it('says when the cache evicted a model to make room for another', async () => {
    const a = ggufFile(400 << 10, 1),
      b = ggufFile(400 << 10, 2);
    const { make } = await setup({ [`${ORIGIN}/models/${TINY}.gguf`]: a, [`${ORIGIN}/models/tiny-llama-f16.gguf`]: b }, 600 << 10);
    const manager = make();
    await manager.download(TINY);
    expect(manager.entry(TINY)!.state).toBe('done');
    await manager.download('tiny-llama-f16');
    expect(manager.entry('tiny-llama-f16')!.state).toBe('done');
    expect(manager.entry(TINY)).toMatchObject({ state: 'none', evicted: true, received: 0 });
    const use = await manager.storageUse();
    expect(use.cacheBytes).toBeLessThanOrEqual(use.cacheBudget!);
  });

  it('refuses honestly a model larger than the whole cache', async () => {
    const big = ggufFile(800 << 10);
    const { make } = await setup({ [`${ORIGIN}/models/${TINY}.gguf`]: big }, 400 << 10);
    const manager = make();
    await manager.download(TINY);
    expect(manager.entry(TINY)!.state).toBe('error');
    expect(manager.entry(TINY)!.error).toMatch(/could not keep/);
  });
});
