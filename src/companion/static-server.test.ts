import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStaticHandler, serveFile } from './static-server.ts';

let dir: string;
let server: Server;
let base: string;
const model = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'static-server-'));
  const dist = join(dir, 'dist');
  const models = join(dir, 'models');
  mkdirSync(join(dist, 'assets'), { recursive: true });
  mkdirSync(models);
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>shell</title>');
  writeFileSync(join(dist, 'sw.js'), 'self.addEventListener("fetch", () => {});');
  writeFileSync(join(dist, 'widget.js'), '(()=>{})();');
  writeFileSync(join(dist, 'assets', 'app-1234.js'), 'export {};');
  writeFileSync(join(dist, 'assets', 'app-1234.css'), 'body{}');
  writeFileSync(join(dist, 'manifest.webmanifest'), '{}');
  writeFileSync(join(dist, 'data.json'), '{}');
  writeFileSync(join(dist, 'kernel.wasm'), new Uint8Array([0, 97, 115, 109]));
  writeFileSync(join(dist, 'icon.svg'), '<svg/>');
  writeFileSync(join(dist, 'icon.png'), new Uint8Array([137, 80, 78, 71]));
  writeFileSync(join(models, 'tiny.gguf'), model);
  writeFileSync(join(models, 'big.gguf'), new Uint8Array(16 << 20));
  writeFileSync(join(dist, '.env'), 'a dotfile');
  mkdirSync(join(dir, '.cache', 'models'), { recursive: true });
  writeFileSync(join(dir, '.cache', 'models', 'tiny.gguf'), model);
  writeFileSync(join(dir, 'secret.txt'), 'outside the served folder');
  server = createServer(
    createStaticHandler([
      { prefix: '/', dir: dist, spa: true },
      { prefix: '/models/', dir: models },
    ]),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** A GET through node:http: fetch() adds `Cache-Control: no-cache` to a request that sets a conditional header itself. */
function plainGet(path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    request(`${base}${path}`, { headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    })
      .on('error', reject)
      .end();
  });
}

/** Open descriptors of this process on `name` (Linux /proc). */
function openFiles(name: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).endsWith(name);
    } catch {
      return false;
    }
  }).length;
}

/** Sends a raw request line, because fetch() normalises ../ away before it leaves the client. */
function rawGet(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    });
    let text = '';
    socket.on('data', (chunk) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

describe('static server', () => {
  it('lets other sites load widget.js, and only that file', async () => {
    const widget = await fetch(`${base}/widget.js?v=2`);
    expect(widget.status).toBe(200);
    expect(widget.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(widget.headers.get('content-type')).toContain('text/javascript');
    expect((await fetch(`${base}/sw.js`)).headers.get('cross-origin-resource-policy')).toBe('same-origin');
    expect((await fetch(`${base}/assets/app-1234.js`)).headers.get('cross-origin-resource-policy')).toBe('same-origin');
  });

  it('serves the shell with cross-origin isolation headers and no-cache', async () => {
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(await res.text()).toContain('<title>shell</title>');
  });

  it('never lets the service worker be cached, but caches hashed assets for good', async () => {
    const sw = await fetch(`${base}/sw.js`);
    expect(sw.headers.get('cache-control')).toBe('no-cache');
    expect(sw.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(sw.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    const asset = await fetch(`${base}/assets/app-1234.js`);
    expect(asset.headers.get('cache-control')).toContain('immutable');
  });

  it.each([
    ['/assets/app-1234.css', 'text/css; charset=utf-8'],
    ['/manifest.webmanifest', 'application/manifest+json; charset=utf-8'],
    ['/data.json', 'application/json; charset=utf-8'],
    ['/kernel.wasm', 'application/wasm'],
    ['/icon.svg', 'image/svg+xml'],
    ['/icon.png', 'image/png'],
    ['/models/tiny.gguf', 'application/octet-stream'],
  ])('serves %s as %s', async (path, type) => {
    const res = await fetch(base + path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(type);
    await res.arrayBuffer();
  });

  it('falls back to the shell for app routes but not for missing files', async () => {
    const page = await fetch(`${base}/playground/chat`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>shell</title>');
    expect((await fetch(`${base}/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${base}/models/missing`)).status).toBe(404);
  });

  it('serves byte ranges of a model', async () => {
    const res = await fetch(`${base}/models/tiny.gguf`, { headers: { Range: 'bytes=100-199' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe('bytes 100-199/1000');
    expect(res.headers.get('content-length')).toBe('100');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(model.subarray(100, 200));

    const tail = await fetch(`${base}/models/tiny.gguf`, { headers: { Range: 'bytes=-10' } });
    expect(tail.status).toBe(206);
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(model.subarray(990));

    const open = await fetch(`${base}/models/tiny.gguf`, { headers: { Range: 'bytes=995-' } });
    expect(new Uint8Array(await open.arrayBuffer())).toEqual(model.subarray(995));

    const whole = await fetch(`${base}/models/tiny.gguf`);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(new Uint8Array(await whole.arrayBuffer())).toEqual(model);
  });

  it('answers 416 for a range past the end', async () => {
    const res = await fetch(`${base}/models/tiny.gguf`, { headers: { Range: 'bytes=1000-1001' } });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe('bytes */1000');
    await res.text();
  });

  it('answers HEAD with headers only and refuses other methods', async () => {
    const head = await fetch(`${base}/models/tiny.gguf`, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe('1000');
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    const post = await fetch(`${base}/`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    await post.text();
  });

  it('revalidates with ETag or Last-Modified, keeping the isolation headers on a 304', async () => {
    const first = await plainGet('/sw.js', {});
    expect(first.status).toBe(200);
    const byTag = await plainGet('/sw.js', { 'if-none-match': String(first.headers.etag) });
    expect(byTag.status).toBe(304);
    expect(byTag.headers['cross-origin-embedder-policy']).toBe('require-corp');
    expect((await plainGet('/sw.js', { 'if-modified-since': String(first.headers['last-modified']) })).status).toBe(304);
    expect((await plainGet('/sw.js', { 'if-none-match': 'W/"other"' })).status).toBe(200);
  });

  it('closes the file when a client aborts a download', async () => {
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = request(`${base}/models/big.gguf`, (res) => res.once('data', () => resolve(void req.destroy())));
        req.on('error', reject).end();
      });
    }
    const deadline = Date.now() + 3000;
    while (openFiles('big.gguf') > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(openFiles('big.gguf')).toBe(0);
  });

  it('does not serve files outside its folders', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/models/..%2fsecret.txt', '/models/%2e%2e%2f%2e%2e%2fsecret.txt', '/..%5csecret.txt']) {
      const response = await rawGet(path);
      expect(response, path).not.toContain('outside the served folder');
      expect(response).toMatch(/^HTTP\/1\.1 (400|403|404)/);
    }
    expect(await (await fetch(`${base}/.env`)).text()).not.toContain('a dotfile');
    expect(await rawGet('/%E0%A4%A')).toMatch(/^HTTP\/1\.1 400/);
  });
});

describe('serveFile', () => {
  it('serves one file by path with ranges, and 404 for a missing one', async () => {
    const one = createServer((req, res) => {
      // Test servers serve models from .cache/models: a dot-folder on the way is fine.
      void serveFile(req, res, join(dir, '.cache', 'models', req.url === '/missing' ? 'nope.gguf' : 'tiny.gguf'));
    });
    await new Promise<void>((resolve) => one.listen(0, '127.0.0.1', resolve));
    const at = `http://127.0.0.1:${(one.address() as AddressInfo).port}`;
    try {
      const part = await fetch(`${at}/m`, { headers: { range: 'bytes=10-19' } });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe('bytes 10-19/1000');
      expect(new Uint8Array(await part.arrayBuffer())).toEqual(model.subarray(10, 20));
      expect((await fetch(`${at}/m`, { headers: { range: 'bytes=1000-' } })).status).toBe(416);
      expect((await fetch(`${at}/missing`)).status).toBe(404);
    } finally {
      one.closeAllConnections();
      await new Promise((resolve) => one.close(resolve));
    }
  });
});
