// Reading a model back from the weight cache: a load reads each stored chunk about once (not once per
// tensor in it), readInto agrees with read, chunks are Blobs (older byte records still read), and a
// failed IndexedDB read is not remembered.
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { Engine } from '../engine/engine.ts';
import { cachedUrlSource } from './cached-source.ts';
import { chunkLength } from './chunk-bytes.ts';
import { WeightCache } from './weight-cache.ts';

const URL_ = 'http://models.test/m.gguf';
let dbCount = 0;
const caches: WeightCache[] = [];

afterEach(() => {
  for (const c of caches.splice(0)) c.close();
});

/** A server of one file with HEAD and Range support, counting the body bytes it sends. */
function rangeFetch(body: Uint8Array): { fetch: typeof fetch; sent: () => number } {
  let sent = 0;
  const f = async (_url: RequestInfo | URL, init?: RequestInit) => {
    const headers = { etag: '"v1"', 'accept-ranges': 'bytes' };
    if (init?.method === 'HEAD') return new Response(null, { headers: { ...headers, 'content-length': String(body.byteLength) } });
    const m = /bytes=(\d+)-(\d+)/.exec(new Headers(init?.headers).get('range') ?? '')!;
    const a = Number(m[1]),
      b = Math.min(Number(m[2]), body.byteLength - 1);
    sent += b - a + 1;
    return new Response(body.slice(a, b + 1), { status: 206, headers: { ...headers, 'content-range': `bytes ${a}-${b}/${body.byteLength}` } });
  };
  return { fetch: f as typeof fetch, sent: () => sent };
}

/** A cache holding the whole file, and a count of the chunk bytes it hands out from then on. */
async function filledCache(
  body: Uint8Array,
  chunkSize: number,
): Promise<{ cache: WeightCache; chunkBytesRead: () => number; server: ReturnType<typeof rangeFetch> }> {
  const cache = await WeightCache.open({ name: `cached-source-${dbCount++}`, chunkSize });
  caches.push(cache);
  const server = rangeFetch(body);
  const first = await cachedUrlSource(cache, URL_, { fetch: server.fetch });
  expect((await first.read(0, body.byteLength)).byteLength).toBe(body.byteLength);
  let read = 0;
  const chunks = cache.chunks.bind(cache);
  cache.chunks = async (key, a, b) => {
    const m = await chunks(key, a, b);
    for (const d of m.values()) read += chunkLength(d);
    return m;
  };
  return { cache, chunkBytesRead: () => read, server };
}

describe('cached source', () => {
  it('loads a model from the cache reading each stored chunk about once', async () => {
    const body = new Uint8Array(readFileSync(await ensureModel('small-llama-q4_k_m')));
    const { cache, chunkBytesRead, server } = await filledCache(body, 256 << 10);
    const sentBefore = server.sent();
    const source = await cachedUrlSource(cache, URL_, { fetch: server.fetch });
    const engine = await Engine.load(source, { backend: 'cpu' });
    try {
      expect(server.sent()).toBe(sentBefore); // all from the cache
      // Tensors are read one by one, several to a chunk; before, each read fetched its chunks again (1.45× the file here; 4.3× for the 0.5B model at 4 MiB chunks).
      expect(chunkBytesRead() / body.byteLength).toBeLessThan(1.15);
      expect(source.stats.cachedBytes).toBeGreaterThan(0.9 * body.byteLength);
    } finally {
      await engine.close();
    }
  }, 60_000);

  it('reads into a caller buffer exactly what read returns, across chunk edges and past the end', async () => {
    const body = new Uint8Array(300_000).map((_, i) => (i * 131 + (i >> 9)) & 255);
    const { cache, server } = await filledCache(body, 64 << 10);
    const source = await cachedUrlSource(cache, URL_, { fetch: server.fetch });
    for (const [offset, length] of [
      [0, 10],
      [65_530, 20],
      [1000, 200_000],
      [299_990, 100],
      [150_000, 1],
    ]) {
      const into = new Uint8Array(length);
      const n = await source.readInto!(offset, into);
      const read = await source.read(offset, length);
      expect(n).toBe(Math.min(length, body.byteLength - offset));
      expect(Buffer.compare(into.subarray(0, n), body.subarray(offset, offset + n))).toBe(0);
      expect(Buffer.compare(read, body.subarray(offset, offset + n))).toBe(0);
    }
    expect(await source.readInto!(body.byteLength, new Uint8Array(4))).toBe(0);
  });

  it('keeps chunks as Blobs, and still reads chunks stored as bytes before', async () => {
    const body = new Uint8Array(200_000).map((_, i) => (i * 13) & 255);
    const { cache, server } = await filledCache(body, 64 << 10);
    const source = await cachedUrlSource(cache, URL_, { fetch: server.fetch });
    const stored = await cache.chunks(source.record.key, 0, 3);
    expect([...stored.values()].every((c) => c instanceof Blob)).toBe(true);
    // An older cache's records: the same chunks as Uint8Arrays.
    const asBytes = new Map(await Promise.all([...stored].map(async ([i, c]) => [i, new Uint8Array(await (c as Blob).arrayBuffer())] as const)));
    cache.chunks = async (_key, a, b) => new Map([...asBytes].filter(([i]) => i >= a && i <= b));
    const again = await cachedUrlSource(cache, URL_, { fetch: server.fetch });
    expect(Buffer.compare(await again.read(60_000, 100_000), body.subarray(60_000, 160_000))).toBe(0);
    expect(server.sent()).toBe(body.byteLength); // only the first fill
  });

  it('asks IndexedDB again after a failed read instead of keeping the failure', async () => {
    const body = new Uint8Array(200_000).map((_, i) => i & 255);
    const { cache, server } = await filledCache(body, 64 << 10);
    const source = await cachedUrlSource(cache, URL_, { fetch: server.fetch });
    const chunks = cache.chunks;
    let fail = true;
    cache.chunks = (key, a, b) => (fail ? Promise.reject(new Error('disk went away')) : chunks(key, a, b));
    await expect(source.read(0, 100)).rejects.toThrow('disk went away');
    fail = false;
    expect(await source.read(0, 100)).toEqual(body.subarray(0, 100));
  });
});
