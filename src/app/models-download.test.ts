import { describe, expect, it } from 'vitest';
import { downloadModel, FIRST_PART_BYTES, memoryPartStore, ModelDownloadError, parseContentRange, partSize } from './models-download.ts';

function fileBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

/** A static file server honouring single byte ranges, counting the body bytes it sent. */
function server(file: Uint8Array, options: { ranges?: boolean; etag?: string } = {}) {
  const log = { requests: [] as string[], bytesSent: 0 };
  const fetchFn = (async (_url: string, init?: RequestInit) => {
    const range = new Headers(init?.headers).get('range');
    log.requests.push(range ?? '');
    const headers: Record<string, string> = { etag: options.etag ?? 'W/"1"', 'accept-ranges': 'bytes' };
    if (range && options.ranges !== false) {
      const [, a, b] = /bytes=(\d+)-(\d*)/.exec(range)!;
      const start = Number(a);
      if (start >= file.length) return new Response(null, { status: 416, headers: { 'content-range': `bytes */${file.length}` } });
      const end = Math.min(file.length - 1, b ? Number(b) : file.length - 1);
      const body = file.slice(start, end + 1);
      log.bytesSent += body.length;
      return new Response(body, { status: 206, headers: { ...headers, 'content-range': `bytes ${start}-${end}/${file.length}`, 'content-length': String(body.length) } });
    }
    log.bytesSent += file.length;
    return new Response(file.slice(), { status: 200, headers: { ...headers, 'content-length': String(file.length) } });
  }) as typeof fetch;
  return { fetchFn, log };
}

/** Byte equality without vitest's element-by-element diff (slow on megabytes). */
const sameBytes = async (blob: Blob, file: Uint8Array) => Buffer.from(await blob.arrayBuffer()).equals(file);

describe('part sizes', () => {
  it('aims at about 64 parts, within bounds', () => {
    expect(partSize(1000)).toBe(FIRST_PART_BYTES);
    expect(partSize(500e6)).toBeGreaterThan(7e6);
    expect(Math.ceil(500e6 / partSize(500e6))).toBeLessThanOrEqual(64);
    expect(partSize(50e9)).toBe(16 * 1024 * 1024);
  });

  it('parses Content-Range', () => {
    expect(parseContentRange('bytes 10-19/100')).toEqual({ start: 10, end: 19, total: 100 });
    expect(parseContentRange('bytes 0-1/*')).toEqual({ start: 0, end: 1, total: null });
    expect(parseContentRange(null)).toBeNull();
  });
});

describe('downloadModel', () => {
  it('downloads a file in ranged parts and reassembles it exactly', async () => {
    const file = fileBytes(3 * FIRST_PART_BYTES + 123);
    const { fetchFn, log } = server(file);
    const store = memoryPartStore();
    const seen: number[] = [];
    const manifest = await downloadModel({ id: 'm', url: 'http://h/m.gguf', store, fetch: fetchFn, onProgress: (p) => seen.push(p.received) });
    expect(manifest).toMatchObject({ complete: true, total: file.length, received: file.length });
    expect(await sameBytes(await store.file('m'), file)).toBe(true);
    expect(log.requests[0]).toBe(`bytes=0-${FIRST_PART_BYTES - 1}`);
    expect(log.bytesSent).toBe(file.length);
    expect(seen.at(-1)).toBe(file.length);
    expect(seen).toEqual([...seen].sort((a, b) => a - b)); // progress never goes backwards
  });

  it('resumes after an interruption from the first byte not stored, fetching only the rest', async () => {
    const file = fileBytes(5 * FIRST_PART_BYTES + 7);
    const { fetchFn, log } = server(file);
    const store = memoryPartStore();
    const controller = new AbortController();
    const first = downloadModel({ id: 'm', url: 'u', store, fetch: fetchFn, signal: controller.signal, onProgress: (p) => { if (p.received >= 2 * FIRST_PART_BYTES) controller.abort(new Error('reload')); } });
    await expect(first).rejects.toThrow('reload');
    const stored = (await store.manifest('m'))!;
    expect(stored.complete).toBe(false);
    expect(stored.received).toBeGreaterThan(0);

    const sentBefore = log.bytesSent;
    const requestsBefore = log.requests.length;
    let fetchedThisRun = 0;
    const done = await downloadModel({ id: 'm', url: 'u', store, fetch: fetchFn, onProgress: (p) => (fetchedThisRun = p.fetchedThisRun) });
    expect(done.complete).toBe(true);
    expect(log.requests[requestsBefore]).toMatch(new RegExp(`^bytes=${stored.received}-`));
    expect(log.bytesSent - sentBefore).toBe(file.length - stored.received);
    expect(fetchedThisRun).toBe(file.length - stored.received);
    expect(await sameBytes(await store.file('m'), file)).toBe(true);
  });

  it('takes a whole-file 200 answer to the first request, cut into parts', async () => {
    const file = fileBytes(2 * FIRST_PART_BYTES);
    const { fetchFn } = server(file, { ranges: false });
    const store = memoryPartStore();
    const manifest = await downloadModel({ id: 'm', url: 'u', store, fetch: fetchFn });
    expect(manifest).toMatchObject({ complete: true, total: file.length });
    expect(await sameBytes(await store.file('m'), file)).toBe(true);
  });

  it('refuses to resume from a server that ignores ranges', async () => {
    const file = fileBytes(2 * FIRST_PART_BYTES);
    const store = memoryPartStore();
    await store.putManifest({ id: 'm', url: 'u', total: file.length, received: 10, parts: [0], etag: null, complete: false, updatedAt: 0 });
    await store.putPart('m', 0, file.slice(0, 10));
    const error = await downloadModel({ id: 'm', url: 'u', store, fetch: server(file, { ranges: false }).fetchFn }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelDownloadError);
    expect(error).toMatchObject({ code: 'no_range' });
  });

  it('notices when the file changed on the server between runs', async () => {
    const store = memoryPartStore();
    await store.putManifest({ id: 'm', url: 'u', total: 999, received: 10, parts: [0], etag: 'W/"old"', complete: false, updatedAt: 0 });
    const error = await downloadModel({ id: 'm', url: 'u', store, fetch: server(fileBytes(2000), { etag: 'W/"new"' }).fetchFn }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'changed' });
  });

  it('explains an unreachable host', async () => {
    const error = await downloadModel({ id: 'm', url: 'https://huggingface.co/x.gguf', store: memoryPartStore(), fetch: (async () => { throw new TypeError('Failed to fetch'); }) as typeof fetch }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'unreachable' });
    expect((error as Error).message).toMatch(/huggingface\.co.*offline/);
  });

  it('reports a 404 as an HTTP error', async () => {
    const error = await downloadModel({ id: 'm', url: 'u', store: memoryPartStore(), fetch: (async () => new Response('not found', { status: 404 })) as typeof fetch }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'http' });
    expect((error as Error).message).toContain('404');
  });
});
