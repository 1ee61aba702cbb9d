// A URL ByteSource served from the weight cache: reads are answered from stored chunks, and only the
// chunks missing are fetched (consecutive ones in one Range request) and stored for next time.
import { siblingUrl, urlSource, type UrlSourceInit } from '../gguf/byte-source.ts';
import type { LocatedSource } from '../gguf/split.ts';
import { StorageError } from './errors.ts';
import type { ModelRecord, WeightCache } from './weight-cache.ts';

export interface CachedSourceStats {
  /** Bytes fetched over the network by this source. */
  fetchedBytes: number;
  /** Bytes of reads answered from the cache. */
  cachedBytes: number;
}

export interface FetchChunksOptions {
  readonly signal?: AbortSignal;
  /** Called after each request's chunks are stored, with the bytes it brought. */
  readonly onFetched?: (bytes: number) => void;
}

export interface CachedSource extends LocatedSource {
  readonly url: string;
  readonly size: number;
  readonly record: ModelRecord;
  readonly stats: CachedSourceStats;
  openSibling(fileName: string): Promise<CachedSource>;
  /** The chunk indices covering [offset, offset + length), and which of them are stored. */
  chunksOf(offset: number, length: number): { first: number; last: number };
  chunkBytes(index: number): number;
  storedChunks(first: number, last: number): Promise<Set<number>>;
  /** Fetches and stores the given chunks, consecutive ones in one request each, in order. */
  fetchChunks(indices: readonly number[], opts?: FetchChunksOptions): Promise<Map<number, Uint8Array>>;
}

export interface CachedSourceInit extends UrlSourceInit {
  /** Largest single Range request (default 64 MiB): also how often an aborted download can resume. */
  readonly maxRequestBytes?: number;
}

function abortError(): DOMException {
  return new DOMException('the download was aborted', 'AbortError');
}

export async function cachedUrlSource(cache: WeightCache, url: string, init: CachedSourceInit = {}): Promise<CachedSource> {
  const inner = await urlSource(url, init);
  if (inner.size === undefined) {
    throw new StorageError('storage_unknown_size', `${url} was served without a Content-Length, so its bytes cannot be cached by range; serve it from a host that sends one`);
  }
  const size = inner.size;
  const record = await cache.model(url, inner.etag, size);
  const cs = record.chunkSize;
  const maxRun = Math.max(1, Math.floor((init.maxRequestBytes ?? 64 << 20) / cs));
  const stats: CachedSourceStats = { fetchedBytes: 0, cachedBytes: 0 };
  const inflight = new Map<number, Promise<Uint8Array>>();
  const chunkBytes = (i: number) => Math.min(cs, size - i * cs);

  async function fetchRun(first: number, count: number): Promise<Map<number, Uint8Array>> {
    const offset = first * cs;
    const length = Math.min(count * cs, size - offset);
    const data = await inner.read(offset, length);
    stats.fetchedBytes += data.byteLength;
    const out = new Map<number, Uint8Array>();
    for (let k = 0; k < count; k++) out.set(first + k, data.subarray(k * cs, Math.min((k + 1) * cs, data.byteLength)));
    // A short answer is passed on (the reader reports the truncation) but never stored.
    if (data.byteLength === length) {
      await cache.put(record.key, [...out].map(([index, d]) => ({ index, data: d.slice() })));
    }
    return out;
  }

  async function fetchChunks(indices: readonly number[], opts: FetchChunksOptions = {}): Promise<Map<number, Uint8Array>> {
    const signal = opts.signal ?? init.signal;
    const got = new Map<number, Uint8Array>();
    const waiting: Promise<void>[] = [];
    const todo: number[] = [];
    for (const i of [...new Set(indices)].sort((a, b) => a - b)) {
      const pending = inflight.get(i);
      if (pending) waiting.push(pending.then((d) => { got.set(i, d); }));
      else todo.push(i);
    }
    // Consecutive chunks go in one request, at most maxRun per request.
    let k = 0;
    while (k < todo.length) {
      if (signal?.aborted) throw abortError();
      let n = 1;
      while (k + n < todo.length && n < maxRun && todo[k + n] === todo[k] + n) n++;
      const first = todo[k];
      const run = fetchRun(first, n);
      for (let j = 0; j < n; j++) {
        const p = run.then((m) => m.get(first + j)!);
        inflight.set(first + j, p);
        p.catch(() => undefined).finally(() => inflight.delete(first + j));
      }
      const m = await run;
      for (const [i, d] of m) got.set(i, d);
      opts.onFetched?.([...m.values()].reduce((s, d) => s + d.byteLength, 0));
      k += n;
    }
    await Promise.all(waiting);
    return got;
  }

  return {
    url,
    size,
    record,
    stats,
    fileName: inner.fileName,
    openSibling: (fileName) => cachedUrlSource(cache, siblingUrl(url, fileName), init),
    chunksOf(offset, length) {
      const end = Math.min(offset + length, size);
      return { first: Math.floor(offset / cs), last: Math.floor((Math.max(end, offset + 1) - 1) / cs) };
    },
    chunkBytes,
    storedChunks: (first, last) => cache.storedIndices(record.key, first, last),
    fetchChunks,
    async read(offset, length) {
      const end = Math.min(offset + length, size);
      if (end <= offset) return new Uint8Array(0);
      const first = Math.floor(offset / cs), last = Math.floor((end - 1) / cs);
      const have = await cache.chunks(record.key, first, last);
      const missing = new Set<number>();
      for (let i = first; i <= last; i++) if (!have.has(i)) missing.add(i);
      if (missing.size > 0) for (const [i, d] of await fetchChunks([...missing])) have.set(i, d);
      const out = new Uint8Array(end - offset);
      for (let i = first; i <= last; i++) {
        const chunk = have.get(i)!;
        const start = i * cs;
        const from = Math.max(offset, start), to = Math.min(end, start + chunk.byteLength);
        if (to > from) out.set(chunk.subarray(from - start, to - start), from - offset);
        if (!missing.has(i)) stats.cachedBytes += to - from;
        if (start + chunk.byteLength < Math.min(end, start + cs)) return out.subarray(0, to - offset); // short read
      }
      return out;
    },
  };
}
