// ByteSource implementations: memory, Blob/File, and HTTP(S) URLs read with Range requests.
import { GgufError } from '../protocol/errors.ts';
import type { ByteSource } from './reader.ts';

export function memorySource(bytes: Uint8Array | ArrayBuffer): ByteSource {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return {
    size: view.byteLength,
    async read(offset, length) {
      return view.subarray(offset, Math.min(offset + length, view.byteLength));
    },
  };
}

export function blobSource(blob: Blob): ByteSource {
  return {
    size: blob.size,
    async read(offset, length) {
      return new Uint8Array(await blob.slice(offset, Math.min(offset + length, blob.size)).arrayBuffer());
    },
  };
}

/** Reads a URL with Range requests; the size comes from a HEAD (or the first range's Content-Range). */
export async function urlSource(url: string, init: { fetch?: typeof fetch; signal?: AbortSignal } = {}): Promise<ByteSource> {
  const doFetch = init.fetch ?? fetch;
  const fail = (detail: string, cause?: unknown) =>
    new GgufError('gguf_fetch_failed', `could not read ${url}: ${detail}`, { cause });
  let size: number | undefined;
  try {
    const head = await doFetch(url, { method: 'HEAD', signal: init.signal });
    if (!head.ok) throw fail(`HTTP ${head.status}`);
    const len = head.headers.get('content-length');
    size = len === null ? undefined : Number(len);
  } catch (e) {
    if (e instanceof GgufError) throw e;
    throw fail('network error', e);
  }
  return {
    size,
    async read(offset, length) {
      if (length <= 0) return new Uint8Array(0);
      const end = size === undefined ? offset + length - 1 : Math.min(offset + length, size) - 1;
      const res = await doFetch(url, { headers: { Range: `bytes=${offset}-${end}` }, signal: init.signal });
      if (res.status === 200 && offset !== 0) throw fail('the server ignores Range requests; serve the model from a host that supports them');
      if (!res.ok) throw fail(`HTTP ${res.status}`);
      const body = new Uint8Array(await res.arrayBuffer());
      return res.status === 200 ? body.subarray(0, end - offset + 1) : body;
    },
  };
}
