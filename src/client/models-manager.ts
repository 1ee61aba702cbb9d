// The Models view's state over the weight cache (src/storage), the same cache the engine loads
// through: what each model has stored (all of it, or the layers a mesh stage read), what is
// downloading (rate, time left), and the actions on it. A download cut off by a reload shows as
// paused with what it stored; a model the cache evicted to make room says so.
import { siblingUrl } from '../gguf/byte-source.ts';
import { parseSplitName, splitFileName } from '../gguf/split.ts';
import { downloadModel } from '../storage/download.ts';
import { watchWeightCache, type ModelRecord, type WeightCache } from '../storage/weight-cache.ts';
import { BUNDLED_MODELS, CURATED_MODELS, customModel, type CatalogModel } from './models-catalog.ts';
import { RateMeter } from './models-rate.ts';

export type ModelState = 'none' | 'downloading' | 'paused' | 'done' | 'error';

export interface ModelEntry {
  model: CatalogModel;
  state: ModelState;
  /** Bytes stored (while downloading, also those arrived for the chunk being filled). */
  received: number;
  total: number | null;
  fetchedThisRun: number;
  rate: number | null;
  secondsLeft: number | null;
  error: string | null;
  /** The cache removed it to make room for another model since this page saw it stored. */
  evicted: boolean;
}

export interface StorageUse {
  /** What the browser counts for this site, and allows it. */
  usage: number | null;
  quota: number | null;
  persisted: boolean | null;
  /** Bytes of model weights cached, and the most the cache holds before evicting (null until read). */
  cacheBytes: number | null;
  cacheBudget: number | null;
  /** Why this browser keeps no weights (storage blocked), or null. */
  cacheUnavailable: string | null;
}

export interface ModelsManagerOptions {
  /** The weight cache (sharedWeightCache() in the app). */
  cache: () => Promise<WeightCache>;
  origin: string;
  fetch?: typeof fetch;
}

/** Cache Storage of the versions before the weight cache; dropped, not migrated (see dropLegacyDownloads). */
export const LEGACY_MODEL_CACHE = 'mesh-models-v1';

/** One model in the cache: a file, or every shard of a split model seen so far. */
interface Stored {
  url: string;
  urls: string[];
  storedBytes: number;
  size: number;
  complete: boolean;
}

export class ModelsManager {
  readonly #cache: () => Promise<WeightCache>;
  readonly #fetch: typeof fetch | undefined;
  readonly #origin: string;
  readonly #entries = new Map<string, ModelEntry>();
  readonly #stored = new Map<string, Stored>();
  readonly #running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  readonly #listeners = new Set<() => void>();
  #emitTimer: ReturnType<typeof setTimeout> | undefined;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  #unwatch: (() => void) | undefined;
  #use = { bytes: null as number | null, budget: null as number | null, unavailable: null as string | null };

  constructor(options: ModelsManagerOptions) {
    this.#cache = options.cache;
    this.#fetch = options.fetch;
    this.#origin = options.origin;
    for (const model of [...BUNDLED_MODELS, ...CURATED_MODELS]) this.#entries.set(model.id, blank(model));
  }

  /**
   * Reads what the cache holds (downloads of earlier visits, layers a mesh stage or the inference
   * worker read), and from then on follows changes any page or worker makes to it.
   */
  async load(): Promise<void> {
    this.#unwatch ??= watchWeightCache(() => this.#refreshSoon());
    await this.refresh();
  }

  /** Stops following the cache (tests; the app keeps one manager for the page's life). */
  close(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
    clearTimeout(this.#refreshTimer);
    clearTimeout(this.#emitTimer);
  }

  async refresh(): Promise<void> {
    let records: readonly ModelRecord[];
    try {
      const cache = await this.#cache();
      const usage = await cache.usage();
      records = usage.models;
      this.#use = { bytes: usage.totalBytes, budget: usage.budgetBytes, unavailable: null };
    } catch (error) {
      this.#use = { bytes: null, budget: null, unavailable: (error as Error).message };
      this.#emit();
      return;
    }
    this.#stored.clear();
    for (const s of groupShards(records)) {
      const id = this.#idOf(s.url) ?? this.#addFound(s);
      this.#stored.set(id, s);
    }
    for (const [id, entry] of this.#entries) {
      if (this.#running.has(id)) continue;
      const s = this.#stored.get(id);
      if (s) {
        const state: ModelState = entry.state === 'error' ? 'error' : s.complete ? 'done' : s.storedBytes > 0 ? 'paused' : 'none';
        this.#entries.set(id, { ...entry, state, received: s.storedBytes, total: s.size, evicted: false });
      } else if (entry.received > 0 && (entry.state === 'done' || entry.state === 'paused')) {
        this.#entries.set(id, { ...blank(entry.model), evicted: true });
      }
    }
    this.#emit();
  }

  entries(): ModelEntry[] {
    return [...this.#entries.values()];
  }

  entry(id: string): ModelEntry | undefined {
    return this.#entries.get(id);
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  addCustom(model: CatalogModel): void {
    if (!this.#idOf(this.#abs(model.url))) this.#entries.set(this.#freeId(model.id), blank(model));
    this.#emit();
  }

  /** Starts or resumes a download; resolves when it completes, pauses or fails (state says which). */
  download(id: string): Promise<void> {
    const entry = this.#entries.get(id);
    if (!entry) return Promise.resolve();
    const running = this.#running.get(id);
    if (running) return running.done;
    const controller = new AbortController();
    const meter = new RateMeter();
    this.#set(id, { state: 'downloading', error: null, evicted: false, rate: null, secondsLeft: null, fetchedThisRun: 0 });
    const done = (async () => {
      try {
        await downloadModel(await this.#cache(), this.#abs(entry.model.url), {
          fetch: this.#fetch,
          signal: controller.signal,
          onProgress: (p) => {
            meter.add(performance.now(), p.bytesFetched);
            const received = p.bytesDone + p.bytesPending;
            this.#set(
              id,
              { received, total: p.bytesTotal, fetchedThisRun: p.bytesFetched, rate: meter.rate(), secondsLeft: meter.secondsLeft(received, p.bytesTotal) },
              true,
            );
          },
        });
        this.#set(id, { state: 'done', rate: null, secondsLeft: null });
        // Ask the browser not to clear the site's storage under pressure (it may say no).
        void navigator.storage?.persist?.().catch(() => false);
      } catch (error) {
        if (controller.signal.aborted) this.#set(id, { state: 'paused', rate: null, secondsLeft: null });
        else this.#set(id, { state: 'error', rate: null, secondsLeft: null, error: describeDownloadError(error, entry.model.url, this.#origin) });
      } finally {
        this.#running.delete(id);
      }
      await this.refresh(); // what the cache really holds now, and any model evicted to make room
    })();
    this.#running.set(id, { controller, done });
    return done;
  }

  pause(id: string): void {
    this.#running.get(id)?.controller.abort(new DOMException('paused', 'AbortError'));
  }

  /** Deletes every stored byte of a model (all shards), whoever stored them. */
  async delete(id: string): Promise<void> {
    const running = this.#running.get(id);
    this.pause(id);
    await running?.done;
    const entry = this.#entries.get(id);
    if (!entry) return;
    const cache = await this.#cache();
    for (const url of this.#stored.get(id)?.urls ?? [this.#abs(entry.model.url)]) await cache.delete(url);
    this.#stored.delete(id);
    if (entry.model.source === 'custom') this.#entries.delete(id);
    else this.#entries.set(id, blank(entry.model));
    await this.refresh();
  }

  async storageUse(): Promise<StorageUse> {
    const estimate = await navigator.storage?.estimate?.().catch(() => undefined);
    const persisted = navigator.storage?.persisted ? await navigator.storage.persisted().catch(() => null) : null;
    return {
      usage: estimate?.usage ?? null,
      quota: estimate?.quota ?? null,
      persisted,
      cacheBytes: this.#use.bytes,
      cacheBudget: this.#use.budget,
      cacheUnavailable: this.#use.unavailable,
    };
  }

  #abs(url: string): string {
    return new URL(url, this.#origin).href;
  }

  #idOf(url: string): string | undefined {
    for (const [id, e] of this.#entries) if (this.#abs(e.model.url) === url) return id;
    return undefined;
  }

  /** An id not taken yet: two custom files may share a name on different hosts. */
  #freeId(id: string): string {
    let free = id;
    for (let n = 2; this.#entries.has(free); n++) free = `${id}-${n}`;
    return free;
  }

  /** A cached model the catalog does not list: a custom download, or a file a mesh stage read. */
  #addFound(s: Stored): string {
    let model: CatalogModel;
    try {
      model = { ...customModel(s.url, this.#origin), approxBytes: s.size };
    } catch {
      model = { id: 'model', title: s.url, url: s.url, approxBytes: s.size, source: 'custom', note: hostOf(s.url) };
    }
    const id = this.#freeId(model.id);
    this.#entries.set(id, blank({ ...model, id }));
    return id;
  }

  #set(id: string, change: Partial<ModelEntry>, progressOnly = false): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    this.#entries.set(id, { ...entry, ...change });
    if (progressOnly) this.#emitSoon();
    else this.#emit();
  }

  /** Progress arrives per network read; the view redraws at most ten times a second. */
  #emitSoon(): void {
    this.#emitTimer ??= setTimeout(() => this.#emit(), 100);
  }

  #emit(): void {
    clearTimeout(this.#emitTimer);
    this.#emitTimer = undefined;
    for (const listener of this.#listeners) listener();
  }

  /** Another context stored or deleted weights: re-read, at most twice a second. */
  #refreshSoon(): void {
    this.#refreshTimer ??= setTimeout(() => {
      this.#refreshTimer = undefined;
      void this.refresh().catch(() => {}); // the next change refreshes again
    }, 500);
  }
}

/**
 * Removes what versions before the weight cache stored in Cache Storage. Not migrated: those parts
 * were cut at other boundaries than the cache's chunks and carry no ETag check, and re-downloading
 * a test model costs seconds; dropping them frees the space the old copy held.
 */
export async function dropLegacyDownloads(): Promise<void> {
  if (typeof caches === 'undefined') return;
  await caches.delete(LEGACY_MODEL_CACHE).catch(() => false);
}

function blank(model: CatalogModel): ModelEntry {
  return { model, state: 'none', received: 0, total: model.approxBytes, fetchedThisRun: 0, rate: null, secondsLeft: null, error: null, evicted: false };
}

/** Records by model: a split model's shards (`-0000k-of-0000n.gguf`) are one model, named by its first shard. */
function groupShards(records: readonly ModelRecord[]): Stored[] {
  const out = new Map<string, Stored & { seen: number; count: number }>();
  for (const r of records) {
    let url = r.url,
      count = 1;
    const name = decodeURIComponent(new URL(r.url).pathname.split('/').pop() ?? '');
    const split = parseSplitName(name);
    if (split) {
      url = siblingUrl(r.url, splitFileName(split.prefix, 0, split.count));
      count = split.count;
    }
    const s = out.get(url) ?? { url, urls: [], storedBytes: 0, size: 0, complete: true, seen: 0, count };
    s.urls.push(r.url);
    s.storedBytes += r.storedBytes;
    s.size += r.size;
    s.complete &&= r.storedBytes === r.size;
    s.seen++;
    out.set(url, s);
  }
  return [...out.values()].map(({ seen, count, ...s }) => ({ ...s, complete: s.complete && seen === count }));
}

/** The reason a download failed, as the row shows it. */
function describeDownloadError(error: unknown, url: string, origin: string): string {
  const e = error as { code?: string; message?: string };
  if (e.code === 'gguf_fetch_failed' && /network error/.test(e.message ?? '')) {
    return `could not reach ${hostOf(new URL(url, origin).href)}. This device may be offline, or the server does not allow downloads from other sites (CORS); models on huggingface.co need internet access.`;
  }
  return e.message ? e.message : `download failed: ${String(error)}`;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
