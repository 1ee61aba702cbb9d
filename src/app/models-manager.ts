// The Models view's state: what is stored, what is downloading (with rate and time left), and the
// actions on it. Downloads are resumable: an interrupted one shows as paused with what it has.
import { BUNDLED_MODELS, CURATED_MODELS, type CatalogModel } from './models-catalog.ts';
import { downloadModel, ModelDownloadError, type DownloadManifest, type PartStore } from './models-download.ts';
import { RateMeter } from './models-rate.ts';

export type ModelState = 'none' | 'downloading' | 'paused' | 'done' | 'error';

export interface ModelEntry {
  model: CatalogModel;
  state: ModelState;
  received: number;
  total: number | null;
  fetchedThisRun: number;
  rate: number | null;
  secondsLeft: number | null;
  error: string | null;
}

export interface StorageUse {
  usage: number | null;
  quota: number | null;
  persisted: boolean | null;
}

export class ModelsManager {
  readonly #store: PartStore;
  readonly #fetch: typeof fetch | undefined;
  readonly #entries = new Map<string, ModelEntry>();
  readonly #running = new Map<string, AbortController>();
  readonly #listeners = new Set<() => void>();
  readonly #origin: string;

  constructor(store: PartStore, options: { fetch?: typeof fetch; origin: string }) {
    this.#store = store;
    this.#fetch = options.fetch;
    this.#origin = options.origin;
    for (const model of [...BUNDLED_MODELS, ...CURATED_MODELS]) this.#entries.set(model.id, blank(model));
  }

  /** Reads what earlier visits stored; a download cut off by a reload shows as paused. */
  async load(): Promise<void> {
    for (const m of await this.#store.manifests()) {
      const existing = this.#entries.get(m.id);
      const model = existing?.model ?? { id: m.id, title: m.url.split('/').pop() ?? m.id, url: m.url, approxBytes: m.total, source: 'custom' as const, note: hostOf(m.url, this.#origin) };
      if (this.#running.has(m.id)) continue;
      this.#entries.set(m.id, { ...blank(model), ...fromManifest(m) });
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
    if (!this.#entries.has(model.id)) this.#entries.set(model.id, blank(model));
    this.#emit();
  }

  /** Starts or resumes a download; resolves when it completes, pauses or fails (state says which). */
  async download(id: string): Promise<void> {
    const entry = this.#entries.get(id);
    if (!entry || this.#running.has(id)) return;
    const controller = new AbortController();
    this.#running.set(id, controller);
    const meter = new RateMeter();
    this.#set(id, { state: 'downloading', error: null, rate: null, secondsLeft: null, fetchedThisRun: 0 });
    const url = new URL(entry.model.url, this.#origin).href;
    try {
      const manifest = await downloadModel({
        id, url, store: this.#store, fetch: this.#fetch, signal: controller.signal,
        onProgress: (p) => {
          meter.add(performance.now(), p.fetchedThisRun);
          this.#set(id, { received: p.received, total: p.total, fetchedThisRun: p.fetchedThisRun, rate: meter.rate(), secondsLeft: meter.secondsLeft(p.received, p.total) });
        },
      });
      this.#set(id, { ...fromManifest(manifest), rate: null, secondsLeft: null });
      // Ask the browser not to evict a finished model under storage pressure (it may say no).
      void navigator.storage?.persist?.().catch(() => false);
    } catch (error) {
      if (controller.signal.aborted) this.#set(id, { state: 'paused', rate: null, secondsLeft: null });
      else this.#set(id, { state: 'error', rate: null, secondsLeft: null, error: error instanceof ModelDownloadError ? error.message : `download failed: ${(error as Error).message}` });
    } finally {
      this.#running.delete(id);
    }
  }

  pause(id: string): void {
    this.#running.get(id)?.abort(new DOMException('paused', 'AbortError'));
  }

  async delete(id: string): Promise<void> {
    this.pause(id);
    await this.#store.delete(id);
    const entry = this.#entries.get(id);
    if (!entry) return;
    if (entry.model.source === 'custom') this.#entries.delete(id);
    else this.#entries.set(id, blank(entry.model));
    this.#emit();
  }

  async storageUse(): Promise<StorageUse> {
    if (!navigator.storage?.estimate) return { usage: null, quota: null, persisted: null };
    const { usage, quota } = await navigator.storage.estimate();
    const persisted = navigator.storage.persisted ? await navigator.storage.persisted() : null;
    return { usage: usage ?? null, quota: quota ?? null, persisted };
  }

  #set(id: string, change: Partial<ModelEntry>): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    this.#entries.set(id, { ...entry, ...change });
    this.#emit();
  }

  #emit(): void {
    for (const listener of this.#listeners) listener();
  }
}

function blank(model: CatalogModel): ModelEntry {
  return { model, state: 'none', received: 0, total: model.approxBytes, fetchedThisRun: 0, rate: null, secondsLeft: null, error: null };
}

function fromManifest(m: DownloadManifest): Partial<ModelEntry> {
  return { state: m.complete ? 'done' : 'paused', received: m.received, total: m.total, error: null };
}

function hostOf(url: string, origin: string): string {
  try {
    return new URL(url, origin).host;
  } catch {
    return url;
  }
}
