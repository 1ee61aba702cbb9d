// A Vite dev server for the whole-model adapter tests: serves the adapters' TypeScript with wllama and
// web-llm pre-bundled (so no mid-test dependency reload), wllama's wasm, the generated test models,
// and /hang/…, which accepts a request and never answers (a stalled host, to test load timeouts).
// COOP/COEP on every response make the page cross-origin isolated, as the app is.
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { createServer, type ViteDevServer } from 'vite';

export interface AdaptersServer {
  readonly base: string;
  close(): Promise<void>;
}

const ROOT = new URL('../..', import.meta.url).pathname;
const MODELS = join(ROOT, '.cache/models');
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

function serveTestFiles(hung: Set<ServerResponse>) {
  return (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const url = req.url ?? '';
    if (url.startsWith('/hang/')) {
      hung.add(res); // answered only when the server closes
      return;
    }
    const m = /^\/models\/([\w.-]+\.gguf)$/.exec(url);
    if (!m) return next();
    const path = join(MODELS, m[1]);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      res.writeHead(404, isolation);
      res.end('no such model');
      return;
    }
    res.writeHead(200, { ...isolation, 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) });
    if (req.method === 'HEAD') res.end();
    else createReadStream(path).pipe(res);
  };
}

export async function startAdaptersServer(): Promise<AdaptersServer> {
  const hung = new Set<ServerResponse>();
  const server: ViteDevServer = await createServer({
    configFile: false,
    root: ROOT,
    cacheDir: join(ROOT, '.cache/vite-adapters'),
    logLevel: 'error',
    optimizeDeps: { include: ['@wllama/wllama/esm/index.js', '@mlc-ai/web-llm'], noDiscovery: true, entries: [] },
    server: { host: '127.0.0.1', port: 0, hmr: false, headers: isolation },
    plugins: [{ name: 'adapter-test-files', configureServer: (s) => { s.middlewares.use(serveTestFiles(hung)); } }],
  });
  await server.listen();
  const address = server.httpServer!.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    base: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const res of hung) res.destroy();
      await server.close();
    },
  };
}
