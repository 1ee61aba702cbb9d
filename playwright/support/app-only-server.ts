// The app with no companion behind it: dist/ (built when stale, as npm start does) and the test
// models, served as the companion's static server serves them, with /companion.json naming an API
// address where nothing listens. Pages of this origin can reach no companion, so /v1 is answered by
// the tab's own engine or not at all.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createStaticHandler } from '../../src/companion/static-server.ts';
import { ensureModel } from '../../tools/models/registry.ts';
import { appBuildState, buildApp } from '../../scripts/app-build.ts';
import { MODELS, ROOT } from './vite-test-server.ts';

export interface AppOnlyServer {
  readonly base: string;
  /** The API address /companion.json names: a port closed before the server started. */
  readonly deadApi: string;
  close(): Promise<void>;
}

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

export async function startAppOnly(models: readonly string[]): Promise<AppOnlyServer> {
  const dist = join(ROOT, 'dist');
  if (appBuildState(ROOT, dist) !== 'fresh') await buildApp(ROOT, dist);
  for (const m of models) await ensureModel(m);
  const deadApi = `http://127.0.0.1:${await closedPort()}`;
  const statics = createStaticHandler([
    { prefix: '/', dir: dist, spa: true },
    { prefix: '/models/', dir: MODELS },
  ]);
  const server: Server = createServer((req, res) => {
    if (req.url?.split('?')[0] === '/companion.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({ api: deadApi }));
      return;
    }
    statics(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    deadApi,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
