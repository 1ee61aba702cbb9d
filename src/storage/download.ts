// Downloads into the weight cache ahead of use: a whole model (every shard of a split one) or just the
// tensors a layer range needs. Resumable (chunks already stored are skipped), abortable, with progress.
import { openGguf, type OpenedGguf } from '../gguf/split.ts';
import { cachedUrlSource, type CachedSource, type CachedSourceInit } from './cached-source.ts';
import type { WeightCache } from './weight-cache.ts';

export interface DownloadProgress {
  /** Bytes of the download now stored, counting those stored before it started (a resume). */
  readonly bytesDone: number;
  readonly bytesTotal: number;
  /** Bytes arrived but not stored yet (the chunk being filled): for a smooth progress bar. */
  readonly bytesPending: number;
  /** Bytes this download fetched over the network so far. */
  readonly bytesFetched: number;
  /** Bytes per second fetched since the download started. */
  readonly rate: number;
  /** Seconds left at that rate; undefined until there is a rate. */
  readonly etaSeconds: number | undefined;
}

export interface DownloadOptions extends CachedSourceInit {
  readonly onProgress?: (p: DownloadProgress) => void;
  /** Clock in milliseconds (tests). */
  readonly now?: () => number;
}

/** A byte range of one file of the model. */
export interface ByteRangeOf {
  readonly source: CachedSource;
  readonly offset: number;
  readonly length: number;
}

/** Where a download began, when opening the model (its header) already fetched bytes. */
interface Started {
  readonly at: number;
  readonly fetched: number;
}

/**
 * A download asks for at most an eighth of a file per request (and at most maxRequestBytes): with a
 * proxy or test harness that buffers whole responses, progress still moves and a reload loses little.
 */
function requestBytesFor(source: CachedSource, o: DownloadOptions): number {
  return Math.min(o.maxRequestBytes ?? 64 << 20, Math.max(source.chunkBytes(0), Math.ceil(source.size / 8)));
}

/**
 * Makes sure every byte of `ranges` is stored, fetching only what is missing. Rejects with an
 * AbortError on abort, and with StorageError `storage_full` when the cache cannot keep the bytes.
 */
export async function downloadRanges(ranges: readonly ByteRangeOf[], o: DownloadOptions = {}, started?: Started): Promise<DownloadProgress> {
  const now = o.now ?? (() => performance.now());
  const start = started?.at ?? now();
  const bySource = new Map<CachedSource, Set<number>>();
  for (const r of ranges) {
    if (r.length <= 0) continue;
    const { first, last } = r.source.chunksOf(r.offset, r.length);
    const set = bySource.get(r.source) ?? new Set<number>();
    for (let i = first; i <= last; i++) set.add(i);
    bySource.set(r.source, set);
  }
  let bytesTotal = 0,
    bytesDone = 0,
    bytesFetched = started?.fetched ?? 0,
    bytesPending = 0;
  const todo: [CachedSource, number[]][] = [];
  for (const [source, set] of bySource) {
    const sorted = [...set].sort((a, b) => a - b);
    const stored = await source.storedChunks(sorted[0], sorted[sorted.length - 1]);
    const missing: number[] = [];
    for (const i of sorted) {
      bytesTotal += source.chunkBytes(i);
      if (stored.has(i)) bytesDone += source.chunkBytes(i);
      else missing.push(i);
    }
    if (missing.length > 0) todo.push([source, missing]);
  }
  const progress = (): DownloadProgress => {
    const seconds = (now() - start) / 1000;
    const rate = seconds > 0 ? bytesFetched / seconds : 0;
    return { bytesDone, bytesTotal, bytesPending, bytesFetched, rate, etaSeconds: rate > 0 ? (bytesTotal - bytesDone - bytesPending) / rate : undefined };
  };
  o.onProgress?.(progress());
  for (const [source, missing] of todo) {
    await source.fetchChunks(missing, {
      signal: o.signal,
      maxRequestBytes: requestBytesFor(source, o),
      requireStored: true,
      onBytes: (bytes) => {
        bytesFetched += bytes;
        bytesPending += bytes;
        o.onProgress?.(progress());
      },
      onStored: (bytes) => {
        bytesDone += bytes;
        bytesPending = Math.max(0, bytesPending - bytes);
        o.onProgress?.(progress());
      },
    });
    bytesPending = 0;
  }
  return progress();
}

/** Opens a model URL (any shard of a split model) through the cache. */
export async function openCachedModel(cache: WeightCache, url: string, o: CachedSourceInit = {}): Promise<{ opened: OpenedGguf; sources: CachedSource[] }> {
  const first = await cachedUrlSource(cache, url, o);
  const opened = await openGguf(first);
  return { opened, sources: opened.shards.map((s) => s.source as CachedSource) };
}

/** Downloads a whole model: every byte of every shard. */
export async function downloadModel(cache: WeightCache, url: string, o: DownloadOptions = {}): Promise<DownloadProgress> {
  const at = (o.now ?? (() => performance.now()))();
  const { sources } = await openCachedModel(cache, url, o);
  const fetched = sources.reduce((n, s) => n + s.stats.fetchedBytes, 0); // the header chunks
  return downloadRanges(
    sources.map((source) => ({ source, offset: 0, length: source.size })),
    o,
    { at, fetched },
  );
}

export interface LayerSelection {
  /** Half-open layer range [first, end). */
  readonly first: number;
  readonly end: number;
  /** Also the token embedding (the head). */
  readonly head?: boolean;
  /** Also the final norm and output matrix (the tail). */
  readonly tail?: boolean;
}

/** Which tensors a peer running `sel` reads: its blocks, tensors every block shares, and head/tail if asked. */
export function tensorWanted(name: string, sel: LayerSelection): boolean {
  const m = /^blk\.(\d+)\./.exec(name);
  if (m) return Number(m[1]) >= sel.first && Number(m[1]) < sel.end;
  if (name === 'token_embd.weight') return !!sel.head || !!sel.tail; // a tied model's output is the embedding
  if (name.startsWith('output')) return !!sel.tail;
  return true; // rope_freqs and the like: used by every layer
}

/** Downloads the headers and the tensors of one layer range (plus head/tail when asked). */
export async function downloadLayers(cache: WeightCache, url: string, sel: LayerSelection, o: DownloadOptions = {}): Promise<DownloadProgress> {
  const at = (o.now ?? (() => performance.now()))();
  const { opened, sources } = await openCachedModel(cache, url, o);
  const fetched = sources.reduce((n, s) => n + s.stats.fetchedBytes, 0);
  const ranges: ByteRangeOf[] = opened.shards.map((s) => ({ source: s.source as CachedSource, offset: 0, length: s.header.dataOffset }));
  for (const t of opened.header.tensors) {
    if (tensorWanted(t.name, sel)) ranges.push({ source: opened.shards[t.shard].source as CachedSource, offset: t.shardOffset, length: t.byteSize });
  }
  return downloadRanges(ranges, o, { at, fetched });
}
