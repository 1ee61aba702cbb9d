// Resumable model downloads: the file is fetched in Range requests of a fixed size, each part stored
// as soon as it arrives, and a manifest records how far it got. After a reload (or a lost connection)
// the next request starts at the first byte not yet stored.

export interface DownloadManifest {
  id: string;
  url: string;
  /** File size from Content-Range / Content-Length; null until the server said. */
  total: number | null;
  /** Bytes stored, from offset 0: every part is contiguous. */
  received: number;
  /** Start offsets of the stored parts, in order (part i ends where part i+1 starts, the last at received). */
  parts: number[];
  etag: string | null;
  complete: boolean;
  updatedAt: number;
}

/** Where parts and manifests live (Cache Storage in the app, a Map in tests). */
export interface PartStore {
  manifest(id: string): Promise<DownloadManifest | null>;
  putManifest(manifest: DownloadManifest): Promise<void>;
  putPart(id: string, offset: number, bytes: Uint8Array): Promise<void>;
  manifests(): Promise<DownloadManifest[]>;
  /** The whole file, from its parts (disk-backed blobs: nothing large is held in memory). */
  file(id: string): Promise<Blob>;
  delete(id: string): Promise<void>;
}

export interface DownloadProgress {
  received: number;
  total: number | null;
  /** Bytes fetched over the network by this run (not counting what was stored before it). */
  fetchedThisRun: number;
}

export type DownloadErrorCode = 'unreachable' | 'http' | 'no_range' | 'changed' | 'storage';

export class ModelDownloadError extends Error {
  readonly code: DownloadErrorCode;
  constructor(code: DownloadErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelDownloadError';
    this.code = code;
  }
}

/** The first request asks for this much, before the size is known. */
export const FIRST_PART_BYTES = 256 * 1024;

/** About 64 parts per file (smooth progress, few requests), between 256 KiB and 16 MiB each. */
export function partSize(total: number): number {
  const step = 64 * 1024;
  const wanted = Math.ceil(total / 64 / step) * step;
  return Math.min(16 * 1024 * 1024, Math.max(FIRST_PART_BYTES, wanted));
}

/** `bytes 0-99/1234` → {start, end, total}; total null for `*`. */
export function parseContentRange(header: string | null): { start: number; end: number; total: number | null } | null {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header?.trim() ?? '');
  if (!match) return null;
  return { start: Number(match[1]), end: Number(match[2]), total: match[3] === '*' ? null : Number(match[3]) };
}

export interface DownloadOptions {
  id: string;
  url: string;
  store: PartStore;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
}

/**
 * Downloads (or resumes) one model. Resolves with the complete manifest; on abort it rejects with
 * the signal's reason, leaving every stored part in place for the next call to resume from.
 */
export async function downloadModel(options: DownloadOptions): Promise<DownloadManifest> {
  const { id, url, store, signal } = options;
  const fetchFn = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  let manifest = (await store.manifest(id)) ?? { id, url, total: null, received: 0, parts: [], etag: null, complete: false, updatedAt: Date.now() };
  if (manifest.url !== url) throw new ModelDownloadError('changed', `a download of ${id} from another address (${manifest.url}) is stored; delete it first`);
  let fetchedThisRun = 0;
  const report = (inFlight: number) => options.onProgress?.({ received: manifest.received + inFlight, total: manifest.total, fetchedThisRun: fetchedThisRun + inFlight });
  report(0);

  while (!manifest.complete) {
    signal?.throwIfAborted();
    const start = manifest.received;
    const size = manifest.total === null ? FIRST_PART_BYTES : partSize(manifest.total);
    const end = manifest.total === null ? start + size - 1 : Math.min(manifest.total, start + size) - 1;
    let response: Response;
    try {
      response = await fetchFn(url, { headers: { range: `bytes=${start}-${end}` }, signal, cache: 'no-store', mode: 'cors', credentials: 'omit' });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new ModelDownloadError('unreachable', `could not reach ${new URL(url, 'http://x').host} (${(error as Error).message}). This device may be offline, or the server does not allow downloads from other sites (CORS); models on huggingface.co need internet access.`, { cause: error });
    }

    if (response.status === 416 && manifest.total !== null && start >= manifest.total) {
      manifest = { ...manifest, complete: true };
      break;
    }
    if (response.status === 200 && start > 0) {
      await response.body?.cancel();
      throw new ModelDownloadError('no_range', `the server of ${url} ignores byte ranges, so this download cannot resume; delete it and download again`);
    }
    if (response.status !== 200 && response.status !== 206) {
      await response.body?.cancel();
      throw new ModelDownloadError('http', `the server answered ${response.status} ${response.statusText} for ${url}${response.status === 404 ? ' (no such file)' : ''}`);
    }

    const etag = response.headers.get('etag');
    let total: number | null;
    if (response.status === 206) {
      const range = parseContentRange(response.headers.get('content-range'));
      if (!range || range.start !== start) {
        await response.body?.cancel();
        throw new ModelDownloadError('http', `the server sent bytes ${response.headers.get('content-range') ?? '(no Content-Range)'} when asked for ${start}-${end}`);
      }
      total = range.total;
    } else {
      const length = response.headers.get('content-length');
      total = length === null ? null : Number(length);
    }
    if ((manifest.total !== null && total !== null && total !== manifest.total) || (manifest.etag && etag && etag !== manifest.etag)) {
      await response.body?.cancel();
      throw new ModelDownloadError('changed', `the file at ${url} changed since this download began; delete it and download again`);
    }
    manifest = { ...manifest, total: total ?? manifest.total, etag: manifest.etag ?? etag };

    // A 206 is one part; a 200 (whole file, first request) is cut into parts as it streams in.
    const cut = response.status === 206 ? Infinity : partSize(total ?? 64 * FIRST_PART_BYTES);
    const reader = response.body!.getReader();
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (!pendingBytes) return;
      const bytes = concat(pending, pendingBytes);
      try {
        await store.putPart(id, manifest.received, bytes);
        manifest = { ...manifest, received: manifest.received + bytes.length, parts: [...manifest.parts, manifest.received], updatedAt: Date.now() };
        await store.putManifest(manifest);
      } catch (error) {
        throw new ModelDownloadError('storage', `could not store the download (${(error as Error).message}); free some space (delete a model) and resume`, { cause: error });
      }
      fetchedThisRun += bytes.length;
      pending = [];
      pendingBytes = 0;
    };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        pending.push(value);
        pendingBytes += value.length;
        report(pendingBytes);
        if (pendingBytes >= cut) await flush();
      }
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new ModelDownloadError('unreachable', `the connection broke after ${manifest.received + pendingBytes} bytes (${(error as Error).message}); resume to continue`, { cause: error });
    }
    await flush();
    const gotNothing = manifest.received === start;
    if (response.status === 200 || (manifest.total !== null && manifest.received >= manifest.total)) {
      if (manifest.total === null) manifest = { ...manifest, total: manifest.received };
      manifest = { ...manifest, complete: true };
    } else if (gotNothing) {
      throw new ModelDownloadError('http', `the server sent no bytes for ${start}-${end} of ${url}`);
    }
    report(0);
  }
  manifest = { ...manifest, updatedAt: Date.now() };
  await store.putManifest(manifest);
  report(0);
  return manifest;
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The same PartStore over a Map, for tests and for environments without Cache Storage. */
export function memoryPartStore(): PartStore & { parts: Map<string, Uint8Array> } {
  const manifests = new Map<string, DownloadManifest>();
  const parts = new Map<string, Uint8Array>();
  return {
    parts,
    manifest: async (id) => structuredClone(manifests.get(id) ?? null),
    putManifest: async (m) => void manifests.set(m.id, structuredClone(m)),
    putPart: async (id, offset, bytes) => void parts.set(`${id}@${offset}`, bytes.slice()),
    manifests: async () => [...manifests.values()].map((m) => structuredClone(m)),
    file: async (id) => new Blob((manifests.get(id)?.parts ?? []).map((o) => parts.get(`${id}@${o}`)!.slice().buffer)),
    delete: async (id) => {
      manifests.delete(id);
      for (const key of [...parts.keys()]) if (key.startsWith(`${id}@`)) parts.delete(key);
    },
  };
}
