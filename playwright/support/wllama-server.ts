// A tiny static server for the wllama cross-check: the page, wllama's ESM + wasm from node_modules and
// the generated models from .cache/models, on 127.0.0.1 with an ephemeral port. COOP/COEP on every
// response make the page crossOriginIsolated, so wllama can use its multi-threaded path.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const mounts: Record<string, string> = {
  '/wllama/': join(root, 'node_modules', '@wllama', 'wllama', 'esm'),
  '/models/': join(root, '.cache', 'models'),
};
const types: Record<string, string> = {
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.gguf': 'application/octet-stream',
  '.html': 'text/html',
};

const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

const page = `<!doctype html><html><head><meta charset="utf-8"><title>wllama reference</title></head>
<body><p>wllama cross-check page</p></body></html>`;

export interface WllamaServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Maps a URL path onto a mounted folder; undefined for anything outside them (no `..` escapes). */
function fileFor(path: string): string | undefined {
  for (const [prefix, dir] of Object.entries(mounts)) {
    if (!path.startsWith(prefix)) continue;
    const file = normalize(join(dir, decodeURIComponent(path.slice(prefix.length))));
    if (file.startsWith(dir + sep) && existsSync(file) && statSync(file).isFile()) return file;
  }
  return undefined;
}

export async function startWllamaServer(): Promise<WllamaServer> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (path === '/') {
      res.writeHead(200, { ...isolation, 'Content-Type': 'text/html' });
      res.end(page);
      return;
    }
    const file = fileFor(path);
    if (!file) {
      res.writeHead(404, isolation);
      res.end('not found');
      return;
    }
    res.writeHead(200, { ...isolation, 'Content-Type': types[extname(file)] ?? 'application/octet-stream', 'Content-Length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
