// A Vite dev server for the WebGPU browser tests: serves the engine's TypeScript modules to a blank
// test page with the app's COOP/COEP headers, and the generated test models under /models/ with
// HEAD and Range support (the engine reads URL models with Range requests, as from a model hub).
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { createServer, type ViteDevServer } from 'vite';

export interface TestServer {
  readonly base: string;
  close(): Promise<void>;
}

const ROOT = new URL('../..', import.meta.url).pathname;
const MODELS = join(ROOT, '.cache/models');

function serveModel(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  const m = /^\/models\/([\w.-]+\.gguf)$/.exec(req.url ?? '');
  if (!m) return next();
  const path = join(MODELS, m[1]);
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    res.statusCode = 404;
    res.end();
    return;
  }
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Content-Type', 'application/octet-stream');
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  let start = 0, end = size - 1;
  if (range) {
    start = Number(range[1]);
    end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
    if (start > end) {
      res.statusCode = 416;
      res.setHeader('Content-Range', `bytes */${size}`);
      res.end();
      return;
    }
    res.statusCode = 206;
    res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
  }
  res.setHeader('Content-Length', String(end - start + 1));
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(path, { start, end }).pipe(res);
}

export async function startWebGpuTestServer(): Promise<TestServer> {
  const server: ViteDevServer = await createServer({
    configFile: false,
    root: ROOT,
    logLevel: 'error',
    server: {
      host: '127.0.0.1', port: 0, hmr: false,
      headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
    },
    plugins: [{ name: 'test-models', configureServer: (s) => { s.middlewares.use(serveModel); } }],
  });
  await server.listen();
  const address = server.httpServer!.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { base: `http://127.0.0.1:${port}`, close: () => server.close() };
}
