// The weight cache on fake-indexeddb with a local Range server: a second load fetches nothing, an
// aborted download resumes where it stopped, eviction keeps the budget, a changed file is refetched.
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { ensureSplitModel } from '../../tools/models/split.ts';
import { Engine } from '../engine/engine.ts';
import { GgmlType } from '../gguf/ggml-types.ts';
import { encodeGguf, gguf as ggufValue } from '../gguf/writer.ts';
import { openModel } from '../engine/model.ts';
import { openStage } from '../engine/stage.ts';
import { cachedUrlSource } from './cached-source.ts';
import { downloadLayers, downloadModel, type DownloadProgress } from './download.ts';
import { chunkSizeFor, watchWeightCache, WeightCache } from './weight-cache.ts';

/** Files by URL path; `etag` changes when a test replaces a file. */
const files = new Map<string, { body: Uint8Array; etag: string }>();
/** Paths whose next GET starting at or past `from` breaks off after `after` body bytes. */
const cuts = new Map<string, { from: number; after: number }>();
let served = 0; // body bytes sent
let server: Server;
let base = '';
let dbCount = 0;
const caches: WeightCache[] = [];

async function newCache(o: { budgetBytes?: number; chunkSize?: number; now?: () => number } = {}): Promise<WeightCache> {
  const c = await WeightCache.open({ name: `test-${dbCount++}`, chunkSize: 256 << 10, ...o });
  caches.push(c);
  return c;
}

function serve(path: string, body: Uint8Array): string {
  files.set(path, { body, etag: `"${path}-${body.byteLength}-${body[body.byteLength >> 1]}"` });
  return `${base}${path}`;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const f = files.get(new URL(req.url!, 'http://x').pathname);
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    const headers = { etag: f.etag, 'accept-ranges': 'bytes' };
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...headers, 'content-length': f.body.byteLength }).end();
      return;
    }
    const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
    const a = m ? Number(m[1]) : 0,
      b = m ? Math.min(Number(m[2]), f.body.byteLength - 1) : f.body.byteLength - 1;
    const path = new URL(req.url!, 'http://x').pathname;
    const cut = cuts.get(path);
    res.writeHead(m ? 206 : 200, { ...headers, 'content-length': b - a + 1, ...(m ? { 'content-range': `bytes ${a}-${b}/${f.body.byteLength}` } : {}) });
    if (cut && a >= cut.from) {
      cuts.delete(path);
      served += cut.after;
      res.write(f.body.subarray(a, a + cut.after), () => res.destroy()); // the connection drops mid-body
      return;
    }
    served += b - a + 1;
    res.end(f.body.subarray(a, b + 1));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const c of caches) c.close();
  await new Promise<void>((r) => server.close(() => r()));
});

/** Byte equality without toEqual's per-element cost on megabytes. */
const same = (a: ArrayBufferView, b: ArrayBufferView) =>
  Buffer.compare(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), new Uint8Array(b.buffer, b.byteOffset, b.byteLength)) === 0;

const bytesOf = (path: string) => new Uint8Array(readFileSync(path));

/** A GGUF holding one F32 tensor of `n` patterned bytes (downloads find shards through the header). */
function gguf(n: number, seed: number): Uint8Array {
  const data = new Uint8Array(n).map((_, i) => (i * 7 + seed) & 255);
  return encodeGguf({ metadata: [['general.name', ggufValue.string(`blob ${seed}`)]], tensors: [{ name: 'blob', shape: [n / 4], type: GgmlType.F32, data }] });
}

async function logitsVia(model: Parameters<typeof Engine.load>[0]): Promise<Float32Array> {
  const e = await Engine.load(model);
  try {
    return await e.createSession().extend(e.tokenize('Hello world, once upon a time'), { logits: 'all' });
  } finally {
    await e.close();
  }
}

describe('weight cache', () => {
  it('serves a second load of a model (split into shards too) without fetching a byte', async () => {
    const single = serve('/tiny.gguf', bytesOf(await ensureModel('tiny-llama-f32')));
    const shards = ensureSplitModel('tiny-llama-f32', 3).map((p, i) =>
      serve(
        `/split/tiny-00${i}`.replace(/00(\d)$/, (_, d) => `-0000${Number(d) + 1}-of-00003.gguf`),
        bytesOf(p),
      ),
    );
    const direct = await logitsVia(await ensureModel('tiny-llama-f32'));
    const cache = await newCache();
    for (const url of [single, shards[0]]) {
      served = 0;
      expect(same(await logitsVia(await cachedUrlSource(cache, url)), direct)).toBe(true);
      expect(served).toBeGreaterThan(1 << 20);
      served = 0;
      const again = await cachedUrlSource(cache, url);
      expect(same(await logitsVia(again), direct)).toBe(true);
      expect(served).toBe(0);
      expect(again.stats).toMatchObject({ fetchedBytes: 0 });
    }
    const usage = await cache.usage();
    expect(usage.models.map((m) => m.url).sort()).toEqual([single, ...shards].sort());
  });

  it('opens a stored model offline (the HEAD cannot reach the server), and refuses one it does not hold', async () => {
    const url = serve('/offline.gguf', bytesOf(await ensureModel('tiny-llama-f32')));
    const direct = await logitsVia(await ensureModel('tiny-llama-f32'));
    const cache = await newCache();
    await downloadModel(cache, url);
    const offline: typeof fetch = async () => {
      throw new TypeError('Failed to fetch');
    };
    const source = await cachedUrlSource(cache, url, { fetch: offline });
    expect(source.size).toBe(files.get('/offline.gguf')!.body.byteLength);
    expect(same(await logitsVia(source), direct)).toBe(true);
    await expect(cachedUrlSource(cache, `${base}/never-stored.gguf`, { fetch: offline })).rejects.toMatchObject({ code: 'gguf_fetch_failed' });
  });

  it('resumes an aborted download from where it stopped, with progress', async () => {
    const body = gguf(3 << 20, 0);
    const url = serve('/big.bin', body);
    const cache = await newCache();
    const abort = new AbortController();
    const seen: DownloadProgress[] = [];
    served = 0;
    let t = 0;
    const now = () => (t += 100); // 100 ms per clock read: rates are deterministic
    await expect(
      downloadModelish(cache, url, {
        signal: abort.signal,
        maxRequestBytes: 256 << 10,
        now,
        onProgress: (p) => {
          seen.push(p);
          if (p.bytesDone >= body.byteLength / 2) abort.abort();
        },
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    const stored = (await cache.usage()).models[0].storedBytes;
    expect(stored).toBeGreaterThanOrEqual(body.byteLength / 2);
    expect(stored).toBeLessThan(body.byteLength);
    expect(served).toBe(stored);
    expect(seen.map((p) => p.bytesDone)).toEqual([...seen.map((p) => p.bytesDone)].sort((a, b) => a - b));
    expect(seen.at(-1)!.rate).toBeGreaterThan(0);
    expect(seen.at(-1)!.etaSeconds).toBeGreaterThan(0);

    served = 0;
    const resumed: DownloadProgress[] = [];
    const done = await downloadModelish(cache, url, { onProgress: (p) => resumed.push(p) });
    expect(resumed[0]).toMatchObject({ bytesDone: stored, bytesTotal: body.byteLength, bytesFetched: 0 });
    expect(done).toMatchObject({ bytesDone: body.byteLength, bytesFetched: body.byteLength - stored });
    expect(served).toBe(body.byteLength - stored);
    const usage = await cache.usage();
    expect(usage.models[0]).toMatchObject({ storedBytes: body.byteLength, complete: true });
    served = 0;
    expect(same(await (await cachedUrlSource(cache, url)).read(0, body.byteLength), body)).toBe(true);
    expect(served).toBe(0);
  });

  it('evicts least-recently-used models to stay under its budget, never the one loading', async () => {
    let clock = 0;
    const cache = await newCache({ budgetBytes: 1 << 20, chunkSize: 64 << 10, now: () => ++clock });
    const a = serve('/a.bin', gguf(400 << 10, 1)),
      b = serve('/b.bin', gguf(400 << 10, 2)),
      c = serve('/c.bin', gguf(400 << 10, 3));
    const size = files.get('/a.bin')!.body.byteLength;
    await downloadModel(cache, a);
    await downloadModel(cache, b);
    await (await cachedUrlSource(cache, a)).read(0, 10); // a is now more recent than b
    await downloadModel(cache, c);
    let usage = await cache.usage();
    expect(usage.models.map((m) => m.url)).toEqual([c, a]);
    expect(usage.totalBytes).toBeLessThanOrEqual(usage.budgetBytes);
    // A read larger than the whole budget is served but not kept, and evicts nothing...
    const hugeBytes = gguf(1200 << 10, 4);
    const huge = serve('/huge.bin', hugeBytes);
    const src = await cachedUrlSource(cache, huge);
    expect(same(await src.read(0, hugeBytes.byteLength), hugeBytes)).toBe(true);
    usage = await cache.usage();
    expect(usage.models.find((m) => m.url === huge)).toMatchObject({ storedBytes: 0 });
    expect(usage.totalBytes).toBe(2 * size);
    // ...while the part of a big model a peer reads (its layers) is kept, evicting the oldest as needed.
    expect(same(await src.read(600 << 10, 300 << 10), hugeBytes.subarray(600 << 10, 900 << 10))).toBe(true);
    usage = await cache.usage();
    expect(usage.models.map((m) => m.url)).toEqual([huge, c]);
    expect(usage.models[0].storedBytes).toBe(6 * (64 << 10)); // the whole 64 KiB chunks 9..14 holding bytes 600K..900K
    expect(usage.totalBytes).toBeLessThanOrEqual(usage.budgetBytes);
    await cache.delete(a);
    expect((await cache.usage()).models.map((m) => m.url)).not.toContain(a);
  });

  it('refetches a file whose ETag changed and drops the old version', async () => {
    const cache = await newCache();
    const url = serve('/v.bin', gguf(100_000, 1));
    await downloadModel(cache, url);
    const v2 = gguf(100_000, 2);
    serve('/v.bin', v2);
    served = 0;
    expect(await (await cachedUrlSource(cache, url)).read(v2.byteLength - 3, 3)).toEqual(v2.subarray(-3));
    expect(served).toBeGreaterThan(0);
    expect((await cache.usage()).models).toHaveLength(1);
  });

  it('downloads one layer range’s tensors only, and a stage of those layers then loads from the cache', async () => {
    const url = serve('/layers.gguf', bytesOf(await ensureModel('tiny-llama-f32')));
    const cache = await newCache({ chunkSize: 16 << 10 });
    served = 0;
    const p = await downloadLayers(cache, url, { first: 1, end: 2 });
    expect(p.bytesTotal).toBeLessThan(files.get('/layers.gguf')!.body.byteLength / 10); // the vocabulary matrices are not fetched
    const source = await cachedUrlSource(cache, url);
    const model = await openModel(source);
    await openStage(model, 1, 2);
    expect(source.stats.fetchedBytes).toBe(0);
    await openStage(model, 0, 1);
    expect(source.stats.fetchedBytes).toBeGreaterThan(0);
  });
});

describe('weight cache: streaming, chunk sizes, change notices', () => {
  it('stores each chunk as its bytes stream in: a connection cut mid-request keeps the chunks that completed', async () => {
    const body = gguf(8 << 20, 5);
    const url = serve('/cut.bin', body);
    const cache = await newCache(); // 256 KiB chunks; a download asks for an eighth of the file (4 chunks) at a time
    cuts.set('/cut.bin', { from: 1 << 20, after: (600 << 10) + 1000 }); // past the header's first MiB: 2 whole chunks and a bit
    served = 0;
    await expect(downloadModel(cache, url)).rejects.toMatchObject({ code: 'gguf_fetch_failed' });
    const stored = (await cache.usage()).models[0].storedBytes;
    expect(stored).toBe((1 << 20) + 2 * (256 << 10));
    served = 0;
    const done = await downloadModel(cache, url);
    expect(done).toMatchObject({ bytesDone: body.byteLength, bytesFetched: body.byteLength - stored });
    expect(served).toBe(body.byteLength - stored);
    expect(same(await (await cachedUrlSource(cache, url)).read(0, body.byteLength), body)).toBe(true);
  });

  it('sizes chunks by file (about 64 per file, 256 KiB to 4 MiB) unless told a size', async () => {
    expect(chunkSizeFor(5_000_000)).toBe(256 << 10);
    expect(chunkSizeFor(64 << 20)).toBe(1 << 20);
    expect(chunkSizeFor(500_000_000)).toBe(4 << 20);
    const cache = await WeightCache.open({ name: `test-${dbCount++}` });
    caches.push(cache);
    expect((await cache.model('http://x/a.gguf', undefined, 100 << 20)).chunkSize).toBe(2 << 20);
  });

  it('tells other handles on the same database when weights are stored or deleted', async () => {
    const url = serve('/watched.bin', gguf(100_000, 9));
    const cache = await newCache();
    let notices = 0;
    const stop = watchWeightCache(() => notices++, cache.name);
    await downloadModel(cache, url);
    await expect.poll(() => notices).toBeGreaterThan(0);
    const before = notices;
    await cache.delete(url);
    await expect.poll(() => notices).toBeGreaterThan(before);
    stop();
  });
});

// downloadModel under its own name in the abort test, so a failure there points at the resume logic.
const downloadModelish = (cache: WeightCache, url: string, o: Parameters<typeof downloadModel>[2]) => downloadModel(cache, url, o);
