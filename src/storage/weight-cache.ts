// Downloaded model bytes kept in IndexedDB, so a reload (or a peer that runs the same layers again)
// fetches nothing. Files are stored as fixed-size chunks keyed by model (URL + ETag + size) and chunk
// index; models are evicted least-recently-used first to stay under a byte budget.
//
// IndexedDB rather than OPFS: it exists in pages and in every kind of worker (OPFS's fast synchronous
// handles only in dedicated workers), commits the chunk and the model's byte count in one
// transaction (a crash never leaves the two disagreeing), and runs under fake-indexeddb in Node tests.
// Chunks of a few MiB keep per-record overhead negligible; OPFS would only be worth it for reading
// multi-GiB files without copies, which the engine does not do (it decodes tensors as they arrive).
// A chunk is stored as a Blob: read back as a byte stream into the reader's own buffer, it is neither
// deserialized nor left behind as garbage (Chromium, 384 MiB read in a worker: 1.1 s and +10 MB of
// peak memory, against 2.0 s and +150 MB for chunks stored as Uint8Array, which are still read).
import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction } from 'idb';
import { StorageError } from './errors.ts';

export const DEFAULT_CHUNK_SIZE = 4 << 20;
export const MIN_CHUNK_SIZE = 256 << 10;
export const DEFAULT_BUDGET = 8 * 2 ** 30;
/** Default database: the one the Models view, the inference worker and a mesh tab's stages share. */
export const DEFAULT_CACHE_NAME = 'mesh-llm-weights';

/**
 * About 64 chunks per file, between 256 KiB and 4 MiB: a small file still shows progress and resumes
 * chunk by chunk, a large one keeps the number of records (and transactions) small.
 */
export function chunkSizeFor(size: number): number {
  let chunk = MIN_CHUNK_SIZE;
  while (chunk < DEFAULT_CHUNK_SIZE && chunk * 64 < size) chunk *= 2;
  return chunk;
}

export interface ModelRecord {
  /** `${url}|${etag}|${size}`: a new version of the file at the same URL is a different model. */
  readonly key: string;
  readonly url: string;
  readonly etag: string | undefined;
  readonly size: number;
  readonly chunkSize: number;
  readonly storedBytes: number;
  readonly storedChunks: number;
  readonly lastUsed: number;
}

/** A stored chunk's bytes: a Blob, or a Uint8Array as chunks were stored before. */
export type StoredChunk = Blob | Uint8Array;

interface ChunkRecord {
  readonly model: string;
  readonly index: number;
  readonly data: StoredChunk;
}

interface Schema extends DBSchema {
  models: { key: string; value: ModelRecord; indexes: { 'by-url': string } };
  chunks: { key: [string, number]; value: ChunkRecord };
}

export interface WeightCacheOptions {
  /** IndexedDB database name (default 'mesh-llm-weights'). */
  readonly name?: string;
  /** Bytes the cache may hold in all (default 8 GiB). */
  readonly budgetBytes?: number;
  /** Chunk size for models first stored from now on (default: chunkSizeFor(size) per file). */
  readonly chunkSize?: number;
  /** Clock for least-recently-used order (tests). */
  readonly now?: () => number;
}

export interface CacheUsage {
  readonly totalBytes: number;
  readonly budgetBytes: number;
  readonly models: readonly (ModelRecord & { readonly complete: boolean })[];
}

export function modelKey(url: string, etag: string | undefined, size: number): string {
  return `${url}|${etag ?? ''}|${size}`;
}

export class WeightCache {
  readonly name: string;
  readonly budgetBytes: number;
  /** Fixed chunk size, or undefined for chunkSizeFor(size). */
  readonly chunkSize: number | undefined;
  private readonly db: IDBPDatabase<Schema>;
  private readonly now: () => number;
  private channel: BroadcastChannel | undefined;

  private constructor(db: IDBPDatabase<Schema>, name: string, o: WeightCacheOptions) {
    this.db = db;
    this.name = name;
    this.budgetBytes = o.budgetBytes ?? DEFAULT_BUDGET;
    this.chunkSize = o.chunkSize;
    this.now = o.now ?? Date.now;
  }

  static async open(o: WeightCacheOptions = {}): Promise<WeightCache> {
    if (typeof indexedDB === 'undefined') {
      throw new StorageError(
        'storage_unavailable',
        'IndexedDB is not available here, so downloaded weights cannot be kept; models will be fetched again on every load',
      );
    }
    if (o.chunkSize !== undefined && !(Number.isInteger(o.chunkSize) && o.chunkSize > 0)) {
      throw new StorageError('storage_bad_options', `chunkSize must be a positive integer, got ${o.chunkSize}`);
    }
    const name = o.name ?? DEFAULT_CACHE_NAME;
    try {
      const db = await openDB<Schema>(name, 1, {
        upgrade(d) {
          d.createObjectStore('models', { keyPath: 'key' }).createIndex('by-url', 'url');
          d.createObjectStore('chunks', { keyPath: ['model', 'index'] });
        },
      });
      return new WeightCache(db, name, o);
    } catch (cause) {
      throw new StorageError(
        'storage_unavailable',
        `could not open the weight cache: ${(cause as Error).message ?? cause}; check the browser's storage settings (private windows may forbid it)`,
        { cause },
      );
    }
  }

  /**
   * The record of one version of a file, created if new; other versions of the same URL are deleted
   * (a changed ETag or size means the server's file changed, and the old bytes are dead weight).
   */
  async model(url: string, etag: string | undefined, size: number): Promise<ModelRecord> {
    const key = modelKey(url, etag, size);
    const tx = this.db.transaction(['models', 'chunks'], 'readwrite');
    const models = tx.objectStore('models');
    for (const old of await models.index('by-url').getAll(url)) {
      if (old.key !== key) await this.deleteIn(tx, old.key);
    }
    const found = await models.get(key);
    const record: ModelRecord = found
      ? { ...found, lastUsed: this.now() }
      : { key, url, etag, size, chunkSize: this.chunkSize ?? chunkSizeFor(size), storedBytes: 0, storedChunks: 0, lastUsed: this.now() };
    await models.put(record);
    await tx.done;
    return record;
  }

  /** The version of `url` the cache holds (the most recently used, should there be several), if any. */
  async storedVersion(url: string): Promise<ModelRecord | undefined> {
    const records = await this.db.getAllFromIndex('models', 'by-url', url);
    return records.sort((a, b) => b.lastUsed - a.lastUsed)[0];
  }

  /** Stored chunks of a model with index in [first, last]. */
  async chunks(key: string, first: number, last: number): Promise<Map<number, StoredChunk>> {
    const rows = await this.db.getAll('chunks', IDBKeyRange.bound([key, first], [key, last]));
    return new Map(rows.map((r) => [r.index, r.data]));
  }

  /** Which of the indices [first, last] are stored, without reading their bytes. */
  async storedIndices(key: string, first: number, last: number): Promise<Set<number>> {
    const keys = await this.db.getAllKeys('chunks', IDBKeyRange.bound([key, first], [key, last]));
    return new Set(keys.map((k) => k[1]));
  }

  /**
   * Stores chunks of one model, first evicting least-recently-used other models to make room.
   * Returns false (storing nothing) when even that cannot fit them under the budget.
   */
  async put(key: string, chunks: readonly { index: number; data: Uint8Array }[]): Promise<boolean> {
    const incoming = chunks.reduce((n, c) => n + c.data.byteLength, 0);
    if (!(await this.makeRoom(key, incoming))) return false;
    const tx = this.db.transaction(['models', 'chunks'], 'readwrite');
    const store = tx.objectStore('chunks');
    const model = await tx.objectStore('models').get(key);
    if (!model) {
      // deleted meanwhile
      tx.abort();
      await tx.done.catch(() => undefined);
      return false;
    }
    let bytes = 0,
      count = 0;
    for (const c of chunks) {
      if ((await store.getKey([key, c.index])) !== undefined) continue;
      await store.put({ model: key, index: c.index, data: typeof Blob === 'function' ? new Blob([c.data as Uint8Array<ArrayBuffer>]) : c.data });
      bytes += c.data.byteLength;
      count++;
    }
    await tx.objectStore('models').put({ ...model, storedBytes: model.storedBytes + bytes, storedChunks: model.storedChunks + count, lastUsed: this.now() });
    await tx.done;
    this.changed();
    return true;
  }

  /** Evicts other models, least recently used first, until `incoming` more bytes fit the budget. */
  private async makeRoom(activeKey: string, incoming: number): Promise<boolean> {
    const models = await this.db.getAll('models');
    let total = models.reduce((n, m) => n + m.storedBytes, 0);
    if (total + incoming <= this.budgetBytes) return true;
    const active = models.find((m) => m.key === activeKey);
    if ((active?.storedBytes ?? 0) + incoming > this.budgetBytes) return false; // never evict the model being loaded
    for (const m of models.filter((x) => x.key !== activeKey).sort((a, b) => a.lastUsed - b.lastUsed)) {
      if (total + incoming <= this.budgetBytes) break;
      await this.delete(m.key);
      total -= m.storedBytes;
    }
    return total + incoming <= this.budgetBytes;
  }

  /** Deletes one model version (by key) or every version of a URL. */
  async delete(keyOrUrl: string): Promise<void> {
    const tx = this.db.transaction(['models', 'chunks'], 'readwrite');
    const byUrl = await tx.objectStore('models').index('by-url').getAllKeys(keyOrUrl);
    for (const key of byUrl.length > 0 ? byUrl : [keyOrUrl]) await this.deleteIn(tx, key);
    await tx.done;
    this.changed();
  }

  private async deleteIn(tx: IDBPTransaction<Schema, ('models' | 'chunks')[], 'readwrite'>, key: string): Promise<void> {
    await tx.objectStore('chunks').delete(IDBKeyRange.bound([key, 0], [key, Infinity]));
    await tx.objectStore('models').delete(key);
  }

  async usage(): Promise<CacheUsage> {
    const models = (await this.db.getAll('models')).sort((a, b) => b.lastUsed - a.lastUsed);
    return {
      totalBytes: models.reduce((n, m) => n + m.storedBytes, 0),
      budgetBytes: this.budgetBytes,
      models: models.map((m) => ({ ...m, complete: m.storedBytes === m.size })),
    };
  }

  /** Tells every context watching this database (watchWeightCache) that what it holds changed. */
  private changed(): void {
    if (typeof BroadcastChannel === 'undefined') return;
    if (!this.channel) {
      this.channel = new BroadcastChannel(channelName(this.name));
      (this.channel as { unref?: () => void }).unref?.(); // Node: never keeps a process alive
    }
    this.channel.postMessage('changed');
  }

  close(): void {
    this.channel?.close();
    this.db.close();
  }
}

const channelName = (db: string) => `weight-cache:${db}`;

/**
 * Calls `listener` whenever any page or worker of this origin stores or deletes weights in the
 * database `name` (a download, an engine's read-through, an eviction). Returns the unsubscribe.
 */
export function watchWeightCache(listener: () => void, name: string = DEFAULT_CACHE_NAME): () => void {
  if (typeof BroadcastChannel === 'undefined') return () => {};
  const channel = new BroadcastChannel(channelName(name));
  (channel as { unref?: () => void }).unref?.();
  channel.onmessage = () => listener();
  return () => channel.close();
}
