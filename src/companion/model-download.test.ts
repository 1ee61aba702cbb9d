// `--model <URL>` downloads once, against the companion's own static file server (ETag, Range,
// If-Range), wrapped to count the body bytes it sends and to cut a response off part-way.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { downloadModel, ModelDownloadError, modelFileName, type DownloadProgress } from './model-download.ts';
import { serveFile } from './static-server.ts';

interface Served {
  readonly method: string;
  readonly path: string;
  readonly range?: string;
  readonly ifRange?: string;
  status?: number;
}

interface ModelServer {
  readonly base: string;
  readonly requests: Served[];
  /** Body bytes sent since the last reset. */
  bodyBytes: number;
  /** Cut the connection once this many body bytes have been sent (then serve normally again). */
  cutAfter?: number;
  close(): Promise<void>;
}

async function startServer(dir: string): Promise<ModelServer> {
  const state: ModelServer = { base: '', requests: [], bodyBytes: 0, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const entry: Served = { method: req.method ?? '', path, range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined };
    state.requests.push(entry);
    const write = res.write.bind(res) as (chunk: Buffer, cb?: () => void) => boolean;
    res.write = ((chunk: Buffer) => {
      entry.status = res.statusCode;
      if (state.cutAfter !== undefined && state.bodyBytes + chunk.byteLength > state.cutAfter) {
        const keep = chunk.subarray(0, state.cutAfter - state.bodyBytes);
        state.bodyBytes += keep.byteLength;
        state.cutAfter = undefined;
        write(keep, () => res.socket?.end()); // FIN, not RST: a reset could drop bytes the client has not read yet
        return false;
      }
      state.bodyBytes += chunk.byteLength;
      return write(chunk);
    }) as typeof res.write;
    res.on('finish', () => {
      entry.status = res.statusCode;
    });
    void serveFile(req, res, join(dir, basename(path)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(state, {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/models/`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}

/** A file that passes the GGUF magic check; the rest is random so a wrong splice shows. */
function fakeGguf(bytes: number): Buffer {
  const b = randomBytes(bytes);
  b.write('GGUF', 0, 'latin1');
  return b;
}

let upstream: string;
let models: string;
let server: ModelServer;

beforeEach(async () => {
  upstream = mkdtempSync(join(tmpdir(), 'mesh-upstream-'));
  models = mkdtempSync(join(tmpdir(), 'mesh-models-'));
  server = await startServer(upstream);
});

afterEach(async () => {
  await server.close();
  rmSync(upstream, { recursive: true, force: true });
  rmSync(models, { recursive: true, force: true });
});

const gets = () => server.requests.filter((r) => r.method === 'GET');
const reset = () => {
  server.requests.length = 0;
  server.bodyBytes = 0;
};
const SIZE = 3 * 1024 * 1024 + 123;

describe('downloadModel', () => {
  it('downloads once; a second start only asks with a HEAD', async () => {
    const data = fakeGguf(SIZE);
    writeFileSync(join(upstream, 'm.gguf'), data);
    const progress: DownloadProgress[] = [];
    const first = await downloadModel(`${server.base}m.gguf`, { dir: models, onProgress: (p) => progress.push(p) });
    expect(first).toEqual({ path: join(models, 'm.gguf'), files: [join(models, 'm.gguf')], fetched: SIZE });
    expect(readFileSync(first.path).equals(data)).toBe(true);
    expect(server.bodyBytes).toBe(SIZE);
    expect(progress.at(-1)).toMatchObject({ file: 'm.gguf', received: SIZE, total: SIZE, fetched: SIZE, done: true });
    expect(progress.filter((p) => !p.done).length).toBeGreaterThan(1);
    expect(existsSync(join(models, 'm.gguf.part'))).toBe(false);

    reset();
    const second = await downloadModel(`${server.base}m.gguf`, { dir: models });
    expect(second.fetched).toBe(0);
    expect(server.requests.map((r) => r.method)).toEqual(['HEAD']);
    expect(server.bodyBytes).toBe(0);
  });

  it('resumes an interrupted download from the partial file: the second run fetches only the rest', async () => {
    const data = fakeGguf(SIZE);
    writeFileSync(join(upstream, 'm.gguf'), data);
    const half = Math.floor(SIZE / 2);
    server.cutAfter = half;
    const failed = await downloadModel(`${server.base}m.gguf`, { dir: models, retries: 0 }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ModelDownloadError);
    expect((failed as ModelDownloadError).code).toBe('model_download_interrupted');
    expect((failed as Error).message).toMatch(/start again to resume/);
    // The client may lose the last bytes in flight when the connection drops: the part holds what it got.
    const kept = readFileSync(join(models, 'm.gguf.part')).byteLength;
    expect(kept).toBeGreaterThan(half - 256 * 1024);
    expect(kept).toBeLessThanOrEqual(half);
    expect(existsSync(join(models, 'm.gguf'))).toBe(false);

    reset();
    const resumed = await downloadModel(`${server.base}m.gguf`, { dir: models, retries: 0 });
    expect(resumed.fetched).toBe(SIZE - kept);
    expect(server.bodyBytes).toBe(SIZE - kept);
    expect(gets()).toEqual([expect.objectContaining({ range: `bytes=${kept}-`, status: 206 })]);
    expect(gets()[0].ifRange).toMatch(/^W\/"/); // the ETag the first response carried
    expect(readFileSync(resumed.path).equals(data)).toBe(true);
  });

  it('resumes by itself within one run when the connection drops', async () => {
    const data = fakeGguf(SIZE);
    writeFileSync(join(upstream, 'm.gguf'), data);
    server.cutAfter = 1_000_000;
    const lines: string[] = [];
    const got = await downloadModel(`${server.base}m.gguf`, { dir: models, log: (l) => lines.push(l) });
    expect(got.fetched).toBe(SIZE); // what reached the disk: the first attempt's part and the rest
    expect(gets()).toHaveLength(2);
    const kept = Number(/^bytes=(\d+)-$/.exec(gets()[1].range ?? '')?.[1]);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(1_000_000);
    expect(server.bodyBytes - 1_000_000).toBe(SIZE - kept);
    expect(lines.join('\n')).toMatch(new RegExp(`stopped at ${kept} of ${SIZE} bytes.*resuming`));
    expect(readFileSync(got.path).equals(data)).toBe(true);
  });

  it('starts over when the file changed on the server between runs (its ETag differs)', async () => {
    const path = join(upstream, 'm.gguf');
    writeFileSync(path, fakeGguf(SIZE));
    server.cutAfter = Math.floor(SIZE / 2);
    await expect(downloadModel(`${server.base}m.gguf`, { dir: models, retries: 0 })).rejects.toThrow(ModelDownloadError);

    const changed = fakeGguf(SIZE + 10);
    writeFileSync(path, changed);
    utimesSync(path, new Date(), new Date(Date.now() + 60_000)); // a new mtime, so a new ETag
    reset();
    const got = await downloadModel(`${server.base}m.gguf`, { dir: models, retries: 0 });
    expect(gets()).toHaveLength(1);
    expect(gets()[0]).toMatchObject({ range: expect.stringMatching(/^bytes=\d+-$/), status: 200 }); // If-Range failed: the whole file
    expect(got.fetched).toBe(changed.byteLength);
    expect(readFileSync(got.path).equals(changed)).toBe(true);

    // A complete download whose upstream then changes is fetched again on the next start.
    const again = fakeGguf(SIZE);
    writeFileSync(path, again);
    utimesSync(path, new Date(), new Date(Date.now() + 120_000));
    reset();
    const third = await downloadModel(`${server.base}m.gguf`, { dir: models, log: () => {} });
    expect(server.requests.map((r) => r.method)).toEqual(['HEAD', 'GET']);
    expect(third.fetched).toBe(SIZE);
    expect(readFileSync(third.path).equals(again)).toBe(true);
  });

  it('fails clearly on a 404 and leaves nothing behind', async () => {
    const error = await downloadModel(`${server.base}missing.gguf`, { dir: models }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelDownloadError);
    expect(error).toMatchObject({ code: 'model_download_not_found' });
    expect((error as Error).message).toContain(`${server.base}missing.gguf answered 404`);
    expect(readdirSync(models)).toEqual([]);
  });

  it('refuses what is not a GGUF (an HTML page at the link)', async () => {
    writeFileSync(join(upstream, 'page.gguf'), '<!doctype html><title>Sign in</title>');
    await expect(downloadModel(`${server.base}page.gguf`, { dir: models })).rejects.toMatchObject({ code: 'model_download_not_gguf' });
    expect(existsSync(join(models, 'page.gguf'))).toBe(false);
  });

  it('fetches every shard of a split GGUF, given any one of them', async () => {
    const shards = [1, 2, 3].map((i) => {
      const data = fakeGguf(100_000 + i);
      writeFileSync(join(upstream, `big-0000${i}-of-00003.gguf`), data);
      return data;
    });
    const got = await downloadModel(`${server.base}big-00002-of-00003.gguf`, { dir: models });
    expect(got.path).toBe(join(models, 'big-00001-of-00003.gguf'));
    expect(got.files.map((f) => basename(f))).toEqual(['big-00001-of-00003.gguf', 'big-00002-of-00003.gguf', 'big-00003-of-00003.gguf']);
    got.files.forEach((f, i) => expect(readFileSync(f).equals(shards[i])).toBe(true));
    reset();
    await downloadModel(`${server.base}big-00001-of-00003.gguf`, { dir: models });
    expect(server.requests.map((r) => r.method)).toEqual(['HEAD', 'HEAD', 'HEAD']);
  });

  it('names the stored file after the URL’s last segment and refuses links that are not .gguf files', () => {
    expect(modelFileName('https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q4_k_m.gguf?download=true')).toBe(
      'qwen2.5-0.5b-instruct-q4_k_m.gguf',
    );
    expect(() => modelFileName('https://example.com/models/')).toThrow(/should end in a \.gguf/);
    expect(() => modelFileName('ftp://example.com/m.gguf')).toThrow(/only http/);
    expect(() => modelFileName('https://example.com/%2e.gguf')).toThrow(ModelDownloadError);
  });
});
