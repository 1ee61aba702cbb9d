// "Use in this tab": runs one stored model in the inference worker (WebGPU on a real GPU adapter,
// else WASM) and serves it as this page's "tab" provider, so the page's /v1, and through the service
// worker every page of the origin, answers with it when no companion can. Refuses a model larger
// than what the capability probe says this tab can hold, before loading anything.
import type { CapabilityReport } from '../protocol/capabilities.ts';
import type { WorkerBackendChoice } from '../protocol/engine-worker.ts';
import { WorkerEngine } from '../engine/worker-client.ts';
import { WorkerProvider } from '../provider/worker-provider.ts';
import { PROVIDER_PRIORITY, type PageProviders } from './page-api.ts';

/** wasm32's memory limit: the WASM kernels hold every weight and the KV cache in one memory. */
const WASM_LIMIT = 4 * 2 ** 30;
/** KV cache, activations and the worker itself, beyond the weights. */
const OVERHEAD = 1.15;
const HEADROOM = 64 * 2 ** 20;

export interface TabFit {
  fits: boolean;
  /** What the model would run on here. */
  backend: 'webgpu' | 'wasm';
  /** Bytes this tab can give a model on that backend. */
  limitBytes: number;
  /** Bytes the model needs (weights plus cache and working memory, estimated). */
  needBytes: number;
  /** Why it does not fit, in words for the Models view. */
  reason: string | null;
}

/** A real GPU (not a software fallback such as SwiftShader) runs the model; otherwise the WASM kernels. */
export function tabBackend(report: CapabilityReport): 'webgpu' | 'wasm' {
  return report.gpu.state === 'ok' && !report.gpu.isFallbackAdapter ? 'webgpu' : 'wasm';
}

/** Whether a model of `fileBytes` fits this tab, by the capability probe's limits. */
export function tabFit(fileBytes: number, report: CapabilityReport): TabFit {
  const backend = tabBackend(report);
  const needBytes = Math.ceil(fileBytes * OVERHEAD + HEADROOM);
  // The browser rounds device memory down to a power of two and caps it (Chrome: 8 GiB); half of it is
  // what a tab can take without pushing the rest of the machine into swap.
  const device = report.deviceMemoryGiB > 0 ? (report.deviceMemoryGiB * 2 ** 30) / 2 : Infinity;
  const limitBytes = Math.min(
    device,
    backend === 'wasm' ? WASM_LIMIT : Infinity,
    backend === 'webgpu' ? Math.max(report.gpu.maxBufferSize * 4, WASM_LIMIT) : Infinity,
  );
  const fits = needBytes <= limitBytes;
  const where = backend === 'webgpu' ? "this tab's GPU" : 'this tab (WASM memory holds at most 4 GiB)';
  return {
    fits,
    backend,
    limitBytes,
    needBytes,
    reason: fits ? null : `needs about ${gib(needBytes)} but ${where} can give it about ${gib(limitBytes)}; join a mesh to split it across devices`,
  };
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

export type TabEngineState =
  | { kind: 'idle' }
  | { kind: 'loading'; id: string; bytesLoaded: number; bytesTotal: number | null }
  | { kind: 'ready'; id: string; backend: 'ref' | 'cpu' | 'webgpu'; threads: number; loadMs: number }
  | { kind: 'error'; id: string; message: string };

export interface TabEngineOptions {
  providers: PageProviders;
  capabilities: () => Promise<CapabilityReport>;
  /** Starts the inference worker; default a module Web Worker. */
  startWorker?: () => Promise<WorkerEngine>;
  /** Remembers the chosen model across reloads (localStorage in the app); null: forget on reload. */
  store?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null;
}

/** Where the model in use is remembered, so a reload (offline too) serves it again. */
const STORE_KEY = 'mesh.tab-model';

export class TabEngineError extends Error {
  readonly code: 'tab_engine_too_large';
  constructor(message: string) {
    super(message);
    this.name = 'TabEngineError';
    this.code = 'tab_engine_too_large';
  }
}

function readSaved(text: string | null): { id?: unknown; url?: unknown; fileBytes?: unknown } | null {
  try {
    const value: unknown = JSON.parse(text ?? 'null');
    return typeof value === 'object' ? (value as { id?: unknown }) : null;
  } catch {
    return null; // a damaged entry is as good as none
  }
}

export class TabEngine {
  readonly #o: TabEngineOptions;
  readonly #listeners = new Set<() => void>();
  #state: TabEngineState = { kind: 'idle' };
  #worker: Promise<WorkerEngine> | undefined;
  #withdraw: (() => void) | undefined;
  #loading: AbortController | undefined;

  constructor(options: TabEngineOptions) {
    this.#o = options;
  }

  get state(): TabEngineState {
    return this.#state;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async fit(fileBytes: number): Promise<TabFit> {
    return tabFit(fileBytes, await this.#o.capabilities());
  }

  /**
   * Loads `url` in the worker (replacing the model it ran) and serves it as `id`. Rejects with
   * TabEngineError when the model cannot fit, and with the worker's coded error when loading fails.
   */
  async use(id: string, url: string, fileBytes: number): Promise<void> {
    this.#loading?.abort(new DOMException('another model was chosen', 'AbortError'));
    const fit = await this.fit(fileBytes);
    if (!fit.fits) {
      this.#set({ kind: 'error', id, message: `Too large for this tab: it ${fit.reason}.` });
      throw new TabEngineError(`${id} ${fit.reason}`);
    }
    const controller = new AbortController();
    this.#loading = controller;
    this.#withdraw?.();
    this.#withdraw = undefined;
    this.#set({ kind: 'loading', id, bytesLoaded: 0, bytesTotal: fileBytes || null });
    const started = performance.now();
    try {
      const engine = await (this.#worker ??= (this.#o.startWorker ?? (() => WorkerEngine.create()))());
      const backend: WorkerBackendChoice = fit.backend === 'webgpu' ? 'webgpu' : 'auto';
      const provider = await WorkerProvider.load(
        engine,
        { id, url },
        {
          load: {
            backend,
            signal: controller.signal,
            onProgress: (p) => {
              if (this.#loading === controller) this.#set({ kind: 'loading', id, bytesLoaded: p.bytesLoaded, bytesTotal: p.bytesTotal ?? null });
            },
          },
        },
      );
      if (this.#loading !== controller) return;
      this.#withdraw = this.#o.providers.register('tab', provider, PROVIDER_PRIORITY.tab);
      this.#o.store?.setItem(STORE_KEY, JSON.stringify({ id, url, fileBytes }));
      await this.#o.providers.published(); // 'ready' means every page of the origin can reach it now
      this.#set({ kind: 'ready', id, backend: provider.info.backend, threads: provider.info.threads, loadMs: Math.round(performance.now() - started) });
    } catch (error) {
      if (this.#loading === controller) this.#set({ kind: 'error', id, message: (error as Error).message });
      throw error;
    } finally {
      if (this.#loading === controller) this.#loading = undefined;
    }
  }

  /** Serves again the model chosen before the page was reloaded, if any (from the weight cache). */
  async restore(): Promise<void> {
    const saved = readSaved(this.#o.store?.getItem(STORE_KEY) ?? null);
    if (!saved || typeof saved.id !== 'string' || typeof saved.url !== 'string' || typeof saved.fileBytes !== 'number') return;
    await this.use(saved.id, saved.url, saved.fileBytes).catch(() => {}); // the state says why
  }

  /** Stops serving and frees the model's memory (the worker stays for the next model). */
  async stop(): Promise<void> {
    this.#o.store?.removeItem(STORE_KEY);
    this.#loading?.abort(new DOMException('stopped', 'AbortError'));
    this.#withdraw?.();
    this.#withdraw = undefined;
    this.#set({ kind: 'idle' });
    await (await this.#worker)?.unload().catch(() => {});
  }

  #set(state: TabEngineState): void {
    this.#state = state;
    for (const listener of this.#listeners) listener();
  }
}
