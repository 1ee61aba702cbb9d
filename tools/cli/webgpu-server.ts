// The local server behind `--backend webgpu`: the browser specs' Vite dev server (127.0.0.1, a free
// port; playwright/support/vite-test-server.ts) serving the engine's TypeScript to a blank
// cross-origin-isolated page, and the model at MODEL_PATH with HEAD and Range support. A local file is read from disk; an http(s) URL is proxied, Range header
// and all, so the page never makes a cross-origin request (COEP would block one without CORS/CORP).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { startViteTestServer, type TestServer } from '../../playwright/support/vite-test-server.ts';
import { ISOLATION_HEADERS, serveFile } from '../../src/companion/static-server.ts';

export const PAGE_PATH = '/__cli/webgpu.html';
export const MODEL_PATH = '/__cli/model.gguf';

const PAGE = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>mesh cli webgpu</title></head><body></body></html>';

const PASSED_BACK = ['content-length', 'content-range', 'accept-ranges', 'content-type', 'etag', 'last-modified'];

async function proxy(url: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const upstream = await fetch(url, { method: req.method, headers: req.headers.range ? { range: req.headers.range } : {} });
  res.statusCode = upstream.status;
  for (const h of PASSED_BACK) {
    const v = upstream.headers.get(h);
    if (v !== null) res.setHeader(h, v);
  }
  if (!upstream.body || req.method === 'HEAD') {
    res.end();
    return;
  }
  Readable.fromWeb(upstream.body as import('node:stream/web').ReadableStream).pipe(res);
}

/** `model` is a local path or an http(s) URL, already resolved by the CLI. */
export function startCliWebGpuServer(model: string): Promise<TestServer> {
  const remote = /^https?:\/\//i.test(model);
  return startViteTestServer({
    headers: { ...ISOLATION_HEADERS },
    middleware: (req, res, next) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== PAGE_PATH && path !== MODEL_PATH) return next();
      for (const [name, value] of Object.entries(ISOLATION_HEADERS)) res.setHeader(name, value);
      if (path === PAGE_PATH) {
        res.setHeader('Content-Type', 'text/html; charset=utf-8');
        res.end(PAGE);
      } else if (remote) {
        proxy(model, req, res).catch((e: unknown) => {
          if (!res.headersSent) res.statusCode = 502;
          res.end(`cannot reach ${model}: ${(e as Error).message}`);
        });
      } else {
        serveFile(req, res, model).catch(() => res.destroy());
      }
    },
  });
}
