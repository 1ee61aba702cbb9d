// The Vite dev server the browser specs share: the repository's TypeScript served as-is on 127.0.0.1
// (ephemeral port, no HMR, no vite.config.ts), plus test-only routes ahead of Vite, and the generated
// test models from .cache/models with HEAD and Range support (the engine reads URL models with Range
// requests, as from a model hub).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { createServer, type InlineConfig } from 'vite';
import { serveFile } from '../../src/companion/static-server.ts';

export interface TestServer {
  readonly base: string;
  close(): Promise<void>;
}

export type Middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

export const ROOT = new URL('../..', import.meta.url).pathname;
export const MODELS = join(ROOT, '.cache/models');

/** COOP/COEP (and CORP) on every response make the page crossOriginIsolated, as the app is. */
export { ISOLATION_HEADERS } from '../../src/companion/static-server.ts';

/** /models/<name>.gguf from .cache/models, served as the companion serves models (ranges, ETag, 404, 416). */
export function serveModelRanges(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  const m = /^\/models\/([\w.-]+\.gguf)$/.exec(req.url ?? '');
  if (!m) {
    next();
    return;
  }
  serveFile(req, res, join(MODELS, m[1])).catch(() => res.destroy());
}

export interface ViteTestServerOptions {
  /** Headers on every response Vite itself serves. */
  readonly headers?: Record<string, string>;
  /** Answers test-only routes before Vite does; serveModelRanges when absent. */
  readonly middleware?: Middleware;
  /** More Vite settings (worker format, pre-bundled dependencies, cache dir). */
  readonly vite?: InlineConfig;
  /** Runs before the server closes (to release requests a test left hanging). */
  readonly beforeClose?: () => void;
}

export async function startViteTestServer(o: ViteTestServerOptions = {}): Promise<TestServer> {
  const middleware = o.middleware ?? serveModelRanges;
  const server = await createServer({
    configFile: false,
    root: ROOT,
    logLevel: 'error',
    ...o.vite,
    server: { host: '127.0.0.1', port: 0, hmr: false, headers: o.headers },
    plugins: [
      {
        name: 'test-routes',
        configureServer: (s) => {
          s.middlewares.use(middleware);
        },
      },
    ],
  });
  await server.listen();
  const address = server.httpServer!.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    base: `http://127.0.0.1:${port}`,
    close: async () => {
      o.beforeClose?.();
      await server.close();
    },
  };
}
