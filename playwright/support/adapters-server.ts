// A Vite dev server for the whole-model adapter tests: serves the adapters' TypeScript with wllama and
// web-llm pre-bundled (so no mid-test dependency reload), wllama's wasm, the generated test models,
// and /hang/…, which accepts a request and never answers (a stalled host, to test load timeouts).
// COOP/COEP on every response make the page cross-origin isolated, as the app is.
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { ISOLATION_HEADERS, MODELS, ROOT, startViteTestServer, type TestServer } from './vite-test-server.ts';

export type AdaptersServer = TestServer;

// Whole files only (no Range): what wllama and web-llm fetch, with the isolation headers written
// here because these responses bypass Vite.
function serveTestFiles(hung: Set<ServerResponse>) {
  return (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const url = req.url ?? '';
    if (url.startsWith('/hang/')) {
      hung.add(res); // answered only when the server closes
      return;
    }
    const m = /^\/models\/([\w.-]+\.gguf)$/.exec(url);
    if (!m) {
      next();
      return;
    }
    const path = join(MODELS, m[1]);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      res.writeHead(404, ISOLATION_HEADERS);
      res.end('no such model');
      return;
    }
    res.writeHead(200, { ...ISOLATION_HEADERS, 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) });
    if (req.method === 'HEAD') res.end();
    else createReadStream(path).pipe(res);
  };
}

export function startAdaptersServer(): Promise<AdaptersServer> {
  const hung = new Set<ServerResponse>();
  return startViteTestServer({
    headers: { ...ISOLATION_HEADERS },
    middleware: serveTestFiles(hung),
    vite: {
      cacheDir: join(ROOT, '.cache/vite-adapters'),
      optimizeDeps: { include: ['@wllama/wllama/esm/index.js', '@mlc-ai/web-llm'], noDiscovery: true, entries: [] },
    },
    beforeClose: () => {
      for (const res of hung) res.destroy();
    },
  });
}
