// A URL ByteSource served from the weight cache: reads are answered from stored chunks, and only the
// chunks missing are fetched (consecutive ones in one Range request) and stored for next time. The
// response body is read as a stream and each chunk is stored the moment it is complete, so progress
// is smooth and a reload in the middle of a request loses at most one chunk.
import { siblingUrl, urlSource, type UrlSourceInit } from '../gguf/byte-source.ts';
import type { LocatedSource } from '../gguf/split.ts';
import { GgufError } from '../protocol/errors.ts';
import { StorageError } from './errors.ts';
import { chunkLength, closeChunk, copyChunk } from './chunk-bytes.ts';
import type { ModelRecord, StoredChunk, WeightCache } from './weight-cache.ts';

export interface CachedSourceStats {
  /** Bytes fetched over the network by this source. */
  fetchedBytes: number;
  /** Bytes of reads answered from the cache. */
  cachedBytes: number;
}

export interface FetchChunksOptions {
  readonly signal?: AbortSignal;
  /** Largest single Range request (default: the source's maxRequestBytes). */
  readonly maxRequestBytes?: number;
  /** Called as bytes arrive from the network. */
  readonly onBytes?: (bytes: number) => void;
  /** Called after each chunk is stored, with its size. */
  readonly onStored?: (bytes: number) => void;
  /**
   * Fail with `storage_full` when a chunk cannot be kept (a download); without it a chunk that does
   * not fit is passed on and simply not kept (an engine reading a model larger than the cache).
   */
  readonly requireStored?: boolean;
}

export interface CachedSource extends LocatedSource {
  readonly url: string;
  readonly size: number;
  readonly record: ModelRecord;
  readonly stats: CachedSourceStats;
  openSibling(fileName: string): Promise<CachedSource>;
  /** The chunk indices covering [offset, offset + length). */
  chunksOf(offset: number, length: number): { first: number; last: number };
  chunkBytes(index: number): number;
  storedChunks(first: number, last: number): Promise<Set<number>>;
  /** Fetches and stores the given chunks, consecutive ones in one request each, in order. */
  fetchChunks(indices: readonly number[], opts?: FetchChunksOptions): Promise<Map<number, Uint8Array>>;
}

export interface CachedSourceInit extends UrlSourceInit {
  /** Largest single Range request (default 64 MiB). */
  readonly maxRequestBytes?: number;
}

/** Chunks that may wait to be stored while more stream in: bounds memory to a few chunks. */
const MAX_QUEUED = 4;
/** How far past a read the next chunks are asked of IndexedDB, so the store works while the reader copies. */
const READ_AHEAD_BYTES = 16 << 20;
/** Chunks held for reading, unused this long is dropped (a load has ended). */
const WINDOW_IDLE_MS = 2000;

function abortError(): DOMException {
  return new DOMException('the download was aborted', 'AbortError');
}

interface Deferred {
  readonly promise: Promise<Uint8Array>;
  resolve(d: Uint8Array): void;
  reject(e: unknown): void;
}

function deferred(): Deferred {
  let resolve!: (d: Uint8Array) => void, reject!: (e: unknown) => void;
  const promise = new Promise<Uint8Array>((a, b) => {
    resolve = a;
    reject = b;
  });
  promise.catch(() => undefined); // a waiter may never come
  return { promise, resolve, reject };
}

/**
 * The file's size and ETag from a HEAD, or offline (the HEAD could not reach the server) from the
 * version the cache holds: a stored model opens with no network at all.
 */
async function describe(cache: WeightCache, url: string, init: CachedSourceInit): Promise<{ size?: number; etag?: string; fileName?: string }> {
  try {
    return await urlSource(url, init);
  } catch (e) {
    const offline = e instanceof GgufError && e.code === 'gguf_fetch_failed' && /network error/.test(e.message) && !init.signal?.aborted;
    const stored = offline ? await cache.storedVersion(url) : undefined;
    if (!stored) throw e;
    return { size: stored.size, etag: stored.etag, fileName: decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '') || undefined };
  }
}

export async function cachedUrlSource(cache: WeightCache, url: string, init: CachedSourceInit = {}): Promise<CachedSource> {
  const inner = await describe(cache, url, init);
  if (inner.size === undefined) {
    throw new StorageError(
      'storage_unknown_size',
      `${url} was served without a Content-Length, so its bytes cannot be cached by range; serve it from a host that sends one`,
    );
  }
  const size = inner.size;
  const record = await cache.model(url, inner.etag, size);
  const cs = record.chunkSize;
  const doFetch = init.fetch ?? ((input: RequestInfo | URL, i?: RequestInit) => fetch(input, i));
  const stats: CachedSourceStats = { fetchedBytes: 0, cachedBytes: 0 };
  const inflight = new Map<number, Deferred>();
  const chunkBytes = (i: number) => Math.min(cs, size - i * cs);
  const fail = (detail: string, cause?: unknown) => new GgufError('gguf_fetch_failed', `could not read ${url}: ${detail}`, { cause });

  const storageFull = () =>
    new StorageError(
      'storage_full',
      `the weight cache could not keep ${url}: it may hold ${cache.budgetBytes} bytes in all (its limit, or what the browser allows this site), and other models cannot make room for this one; delete models you do not need, then resume`,
    );

  /** Stores one chunk; false when the cache cannot keep it (over budget, quota, deleted meanwhile). */
  async function keep(index: number, data: Uint8Array): Promise<boolean> {
    try {
      return await cache.put(record.key, [{ index, data }]);
    } catch {
      return false; // QuotaExceededError and the like: the bytes are still good to use
    }
  }

  /** Fetches chunks [first, first + count) in one request; resolves each waiter as its chunk completes. */
  async function fetchRun(
    first: number,
    count: number,
    o: FetchChunksOptions,
    signal: AbortSignal | undefined,
    store: boolean,
  ): Promise<Map<number, Uint8Array>> {
    const offset = first * cs;
    const length = Math.min(count * cs, size - offset);
    const out = new Map<number, Uint8Array>();
    let response: Response;
    try {
      response = await doFetch(url, { headers: { Range: `bytes=${offset}-${offset + length - 1}` }, signal });
    } catch (e) {
      if (signal?.aborted) throw signal.reason ?? abortError();
      throw fail('network error', e);
    }
    if (response.status === 200 && offset !== 0) {
      await response.body?.cancel();
      throw fail('the server ignores Range requests; serve the model from a host that supports them');
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw fail(`HTTP ${response.status}`);
    }
    const reader = response.body!.getReader();
    let index = first,
      filled = 0,
      received = 0;
    let chunk = new Uint8Array(chunkBytes(index));
    // Chunks are stored in order while the next ones stream in (network and IndexedDB overlap), at
    // most MAX_QUEUED behind; the run ends only once all are stored, so a resume sees them.
    let storing: Promise<void> = Promise.resolve();
    let queued = 0;
    const enqueue = (i: number, data: Uint8Array) => {
      queued++;
      storing = storing
        .then(async () => {
          if (store && !(await keep(i, data)) && o.requireStored) throw storageFull();
          o.onStored?.(data.byteLength);
        })
        .finally(() => {
          queued--;
        });
      storing.catch(() => undefined); // awaited below; this only marks it handled meanwhile
    };
    try {
      while (received < length) {
        const { value, done } = await reader.read();
        if (done) break;
        // A 200 for the whole file (offset 0) carries more than asked: the rest is not read.
        const piece = value.subarray(0, length - received);
        received += piece.byteLength;
        stats.fetchedBytes += piece.byteLength;
        o.onBytes?.(piece.byteLength);
        for (let at = 0; at < piece.byteLength; ) {
          const n = Math.min(piece.byteLength - at, chunk.byteLength - filled);
          chunk.set(piece.subarray(at, at + n), filled);
          filled += n;
          at += n;
          if (filled < chunk.byteLength) continue;
          out.set(index, chunk);
          inflight.get(index)?.resolve(chunk);
          enqueue(index, chunk);
          if (queued >= MAX_QUEUED) await storing;
          index++;
          filled = 0;
          if (index < first + count) chunk = new Uint8Array(chunkBytes(index));
        }
      }
      await storing;
    } catch (e) {
      await reader.cancel().catch(() => undefined);
      await storing.catch(() => undefined); // what arrived whole is kept for the resume
      if (signal?.aborted) throw signal.reason ?? abortError();
      if (e instanceof StorageError) throw e;
      throw fail(`the connection broke after ${offset + received} bytes`, e);
    }
    if (received >= length) await reader.cancel().catch(() => undefined);
    // A short answer is passed on (the reader reports the truncation) but never stored.
    if (filled > 0) out.set(index, chunk.subarray(0, filled));
    return out;
  }

  async function fetchChunks(indices: readonly number[], opts: FetchChunksOptions = {}): Promise<Map<number, Uint8Array>> {
    const signal = opts.signal ?? init.signal;
    const maxRun = Math.max(1, Math.floor((opts.maxRequestBytes ?? init.maxRequestBytes ?? 64 << 20) / cs));
    const got = new Map<number, Uint8Array>();
    const waiting: Promise<void>[] = [];
    const todo: number[] = [];
    for (const i of [...new Set(indices)].sort((a, b) => a - b)) {
      const pending = inflight.get(i);
      if (pending)
        waiting.push(
          pending.promise.then((d) => {
            got.set(i, d);
          }),
        );
      else todo.push(i);
    }
    // One read larger than the whole cache is passed on but not kept: storing it would evict every
    // other model only to lose its own first chunks again before the read ends.
    const store = todo.reduce((n, i) => n + chunkBytes(i), 0) <= cache.budgetBytes;
    if (!store && opts.requireStored) throw storageFull();
    // Consecutive chunks go in one request, at most maxRun per request.
    let k = 0;
    while (k < todo.length) {
      if (signal?.aborted) throw signal.reason ?? abortError();
      let n = 1;
      while (k + n < todo.length && n < maxRun && todo[k + n] === todo[k] + n) n++;
      const first = todo[k];
      const mine = new Map<number, Deferred>();
      for (let j = 0; j < n; j++) {
        const d = deferred();
        mine.set(first + j, d);
        inflight.set(first + j, d);
      }
      try {
        const m = await fetchRun(first, n, opts, signal, store);
        for (const [i, d] of m) got.set(i, d);
        const short = fail('the server sent fewer bytes than asked');
        for (const [i, d] of mine)
          if (!m.has(i)) d.reject(short);
          else d.resolve(m.get(i)!);
      } catch (e) {
        for (const d of mine.values()) d.reject(e);
        throw e;
      } finally {
        for (const [i, d] of mine) if (inflight.get(i) === d) inflight.delete(i);
      }
      k += n;
    }
    await Promise.all(waiting);
    return got;
  }

  const lastChunk = Math.ceil(size / cs) - 1;
  const ahead = Math.max(1, Math.round(READ_AHEAD_BYTES / cs));
  /**
   * Stored chunks read lately or asked for ahead of the reader (index → its Blob, or undefined where
   * not stored). A loader reads tensor after tensor, several to a chunk: without it each read asked
   * IndexedDB for its chunks again (4.3× the file for the 0.5B model), one request after another.
   */
  const recent = new Map<number, Promise<StoredChunk | undefined>>();
  let idle: ReturnType<typeof setTimeout> | undefined;

  /** Drops a chunk held, closing the streams open on it. */
  function forget(i: number): void {
    recent
      .get(i)
      ?.then(closeChunk)
      .catch(() => {});
    recent.delete(i);
  }

  /** Asks IndexedDB for the chunks in [a, b] not held yet, one request per run, not awaited. */
  function ask(a: number, b: number): void {
    let run = -1;
    for (let i = a; i <= b + 1; i++) {
      const missing = i <= b && !recent.has(i);
      if (missing && run < 0) run = i;
      if (missing || run < 0) continue;
      const rows = cache.chunks(record.key, run, i - 1);
      for (let j = run; j < i; j++) {
        const chunk = rows.then((m) => m.get(j));
        chunk.catch(() => undefined); // a chunk asked for ahead may never be read; a read awaits it and sees the failure
        recent.set(j, chunk);
      }
      run = -1;
    }
  }

  /** The chunks [first, last], from those held, IndexedDB or the network; the next few are asked for meanwhile. */
  async function chunksFor(first: number, last: number): Promise<{ have: Map<number, StoredChunk>; fetched: Set<number> }> {
    for (const i of recent.keys()) if (i < first || i > last + ahead) forget(i);
    ask(first, last);
    ask(last + 1, Math.min(lastChunk, last + ahead));
    const have = new Map<number, StoredChunk>();
    const fetched = new Set<number>();
    try {
      for (let i = first; i <= last; i++) {
        const d = await recent.get(i);
        if (d) have.set(i, d);
        else fetched.add(i);
      }
    } catch (e) {
      recent.clear(); // a failed IndexedDB read is not kept: the next read asks again
      throw e;
    }
    if (fetched.size > 0) {
      // Not held: the next read asks IndexedDB, which keeps them now unless the cache could not.
      for (const i of fetched) recent.delete(i);
      for (const [i, d] of await fetchChunks([...fetched])) have.set(i, d);
    }
    // The chunks held are for a load under way: once reads stop, its chunks go.
    clearTimeout(idle);
    idle = setTimeout(() => {
      for (const i of recent.keys()) forget(i);
    }, WINDOW_IDLE_MS);
    (idle as { unref?: () => void }).unref?.();
    return { have, fetched };
  }

  /** Bytes [offset, offset + out.length) into `out` (offset < size); returns how many (fewer where the server ended early). */
  async function copyOut(offset: number, out: Uint8Array): Promise<number> {
    const end = Math.min(offset + out.byteLength, size);
    const first = Math.floor(offset / cs),
      last = Math.floor((end - 1) / cs);
    const { have, fetched } = await chunksFor(first, last);
    for (let i = first; i <= last; i++) {
      const chunk = have.get(i);
      if (!chunk) return Math.max(0, i * cs - offset); // the server ended early
      const start = i * cs;
      const length = chunkLength(chunk);
      const from = Math.max(offset, start),
        to = Math.min(end, start + length);
      if (to > from) await copyChunk(chunk, from - start, out.subarray(from - offset, to - offset));
      if (!fetched.has(i)) stats.cachedBytes += to - from;
      if (start + length < Math.min(end, start + cs)) return to - offset; // short read
    }
    return end - offset;
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
      const out = new Uint8Array(end - offset);
      return out.subarray(0, await copyOut(offset, out));
    },
    async readInto(offset, into) {
      return Math.min(offset + into.byteLength, size) <= offset ? 0 : copyOut(offset, into);
    },
  };
}
