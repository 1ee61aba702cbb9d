// ByteSource implementations: memory, Blob/File, and HTTP(S) URLs read with Range requests. Sources
// that know their location can open a file beside them, which is how split GGUFs find their shards.
import { GgufError } from '../protocol/errors.ts';
import type { ByteSource } from './reader.ts';
import type { LocatedSource } from './split.ts';

export function memorySource(bytes: Uint8Array | ArrayBuffer): ByteSource {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return {
    size: view.byteLength,
    async read(offset, length) {
      return view.subarray(offset, Math.min(offset + length, view.byteLength));
    },
  };
}

export function blobSource(blob: Blob): LocatedSource {
  const name = (blob as { name?: unknown }).name;
  return {
    size: blob.size,
    fileName: typeof name === 'string' ? name : undefined,
    async read(offset, length) {
      return new Uint8Array(await blob.slice(offset, Math.min(offset + length, blob.size)).arrayBuffer());
    },
  };
}

/**
 * Files picked together (a split model's shards from a file input or a drop): the source is the
 * first shard, or the only file, and finds the others among the rest by name.
 */
export function pickedFilesSource(files: readonly File[]): LocatedSource {
  if (files.length === 0) throw new GgufError('gguf_split_missing', 'no model file was given; pick a .gguf file (all shards of a split model)');
  const first = files.find((f) => /-00001-of-\d{5}\.gguf$/.test(f.name)) ?? files[0];
  return {
    ...blobSource(first),
    async openSibling(fileName) {
      const f = files.find((x) => x.name === fileName);
      if (!f) throw new GgufError('gguf_split_missing', `${fileName} was not among the files picked`);
      return blobSource(f);
    },
  };
}

export interface UrlSourceInit {
  readonly fetch?: typeof fetch;
  readonly signal?: AbortSignal;
}

/** The URL of the file `fileName` beside `url` (same directory, same query string). */
export function siblingUrl(url: string, fileName: string): string {
  const u = new URL(url);
  u.pathname = u.pathname.replace(/[^/]*$/, encodeURIComponent(fileName));
  return u.toString();
}

function urlFileName(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '') || undefined;
  } catch {
    return undefined;
  }
}

export interface UrlSource extends LocatedSource {
  readonly url: string;
  /** The server's ETag, when it sends one: with the size, it tells one version of a file from the next. */
  readonly etag: string | undefined;
  openSibling(fileName: string): Promise<UrlSource>;
}

/** Reads a URL with Range requests; the size comes from a HEAD (or the first range's Content-Range). */
export async function urlSource(url: string, init: UrlSourceInit = {}): Promise<UrlSource> {
  const doFetch = init.fetch ?? fetch;
  const fail = (detail: string, cause?: unknown) => new GgufError('gguf_fetch_failed', `could not read ${url}: ${detail}`, { cause });
  let size: number | undefined;
  let etag: string | undefined;
  try {
    const head = await doFetch(url, { method: 'HEAD', signal: init.signal });
    if (!head.ok) throw fail(`HTTP ${head.status}`);
    const len = head.headers.get('content-length');
    size = len === null ? undefined : Number(len);
    etag = head.headers.get('etag') ?? undefined;
  } catch (e) {
    if (e instanceof GgufError) throw e;
    throw fail('network error', e);
  }
  return {
    url,
    size,
    etag,
    fileName: urlFileName(url),
    openSibling: (fileName) => urlSource(siblingUrl(url, fileName), init),
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
