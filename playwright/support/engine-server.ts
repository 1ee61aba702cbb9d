// A Vite dev server for the engine-in-a-worker browser tests: the engine's TypeScript (the page, the
// inference worker and its WASM threads) and the generated test models under /models/ with Range
// support. `isolated` adds COOP/COEP, making the page crossOriginIsolated (SharedArrayBuffer, threads).
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { createServer } from 'vite';

export interface EngineTestServer {
  readonly base: string;
  close(): Promise<void>;
}

const ROOT = new URL('../..', import.meta.url).pathname;
const MODELS = join(ROOT, '.cache/models');

function serveModel(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  const m = /^\/models\/([\w.-]+\.gguf)$/.exec(req.url ?? '');
  if (!m) return next();
  let size: number;
  try {
    size = statSync(join(MODELS, m[1])).size;
  } catch {
    res.statusCode = 404;
    res.end();
    return;
  }
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  const start = range ? Number(range[1]) : 0;
  const end = range?.[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Content-Length', String(end - start + 1));
  if (range) {
    res.statusCode = 206;
    res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
  }
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(join(MODELS, m[1]), { start, end }).pipe(res);
}

export async function startEngineTestServer(isolated: boolean): Promise<EngineTestServer> {
  const headers: Record<string, string> = isolated
    ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Resource-Policy': 'same-origin' }
    : {};
  const server = await createServer({
    configFile: false,
    root: ROOT,
    logLevel: 'error',
    worker: { format: 'es' },
    server: { host: '127.0.0.1', port: 0, hmr: false, headers },
    plugins: [{ name: 'test-models', configureServer: (s) => { s.middlewares.use(serveModel); } }],
  });
  await server.listen();
  const address = server.httpServer!.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { base: `http://127.0.0.1:${port}`, close: () => server.close() };
}
