// Where a model comes from inside the worker, as a ByteSource that reports how many bytes were read
// (the header first, then each tensor the loaded range needs), throttled so progress events cost
// nothing next to the reads themselves.
import { blobSource, memorySource } from '../../src/gguf/byte-source.ts';
import type { ByteSource } from '../../src/gguf/reader.ts';
import { EngineWorkerError } from '../../src/engine/worker-errors.ts';
import type { LoadProgress, WorkerModelInput } from '../../src/protocol/engine-worker.ts';
import { openModelUrl } from '../../src/storage/shared-cache.ts';

export interface OpenedSource {
  readonly source: ByteSource;
  close(): Promise<void>;
}

const isUrl = (s: string) => /^(https?:|blob:|data:)/i.test(s);

/** A URL (absolute, or relative to the worker's location), bytes, a Blob, or (in Node) a file path. */
export async function openWorkerSource(input: WorkerModelInput, signal: AbortSignal): Promise<OpenedSource> {
  if (input instanceof ArrayBuffer) return { source: memorySource(input), close: async () => {} };
  if (typeof Blob !== 'undefined' && input instanceof Blob) return { source: blobSource(input), close: async () => {} };
  if (typeof input !== 'string') throw new EngineWorkerError('worker_bad_request', 'load wants a URL string, an ArrayBuffer or a Blob');
  const base = (globalThis as { location?: { href: string } }).location?.href;
  if (isUrl(input) || base) {
    const url = new URL(input, base).href;
    // Through the origin's weight cache: a model the Models view downloaded loads with no network bytes.
    return { source: await openModelUrl(url, { signal }), close: async () => {} };
  }
  // Node (tests, the companion): a local path, read by range like a URL.
  const path = '../../src/engine/file-source.ts';
  const { fileSource } = (await import(/* @vite-ignore */ path)) as typeof import('../../src/engine/file-source.ts');
  const source = await fileSource(input);
  return { source, close: () => source.close() };
}

/** Wraps a source so every completed read adds to a running byte count reported through onProgress. */
export function countingSource(inner: ByteSource, onProgress: (p: LoadProgress) => void, everyMs = 50): ByteSource & { readonly bytesLoaded: number } {
  let loaded = 0;
  let last = -Infinity;
  const count = (n: number) => {
    loaded += n;
    const now = Date.now();
    if (now - last >= everyMs) {
      last = now;
      onProgress({ phase: 'reading', bytesLoaded: Math.min(loaded, inner.size ?? Infinity), bytesTotal: inner.size });
    }
  };
  return {
    size: inner.size,
    get bytesLoaded() {
      return loaded;
    },
    async read(offset, length) {
      const bytes = await inner.read(offset, length);
      count(bytes.byteLength);
      return bytes;
    },
    // Passed on where the inner source has it: the loader then reads into one reused buffer, not a fresh one per chunk.
    ...(inner.readInto
      ? {
          readInto: async (offset: number, into: Uint8Array) => {
            const n = await inner.readInto!(offset, into);
            count(n);
            return n;
          },
        }
      : {}),
  };
}
