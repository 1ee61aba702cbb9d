// Wires the companion's four services (app, nostr, api, libp2p): starts them in order, reports
// their real URLs, and stops them all, each even if another fails to stop.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiHandler, healthRoute } from './api-server.ts';
import type { ApiRoute } from './api-server.ts';
import { displayHost } from './config.ts';
import type { CompanionConfig } from './config.ts';
import { startLibp2pNode, webSocketAddress } from './libp2p-node.ts';
import type { CompanionLibp2p } from './libp2p-node.ts';
import { startNostrRelay } from './nostr-relay.ts';
import type { RunningNostrRelay } from './nostr-relay.ts';
import { createStaticHandler } from './static-server.ts';
import { MeshError } from '../protocol/errors.ts';

export interface CompanionUrls {
  app: string;
  nostr: string;
  api: string;
  libp2p: string;
}

export interface Companion {
  urls: CompanionUrls;
  libp2p: CompanionLibp2p;
  nostr: RunningNostrRelay;
  stop(): Promise<void>;
}

export interface CompanionOptions {
  /** Extra API routes (the OpenAI/Anthropic issue adds its /v1/… routes here). */
  routes?: readonly ApiRoute[];
  /** false: a fresh libp2p key for this run only (tests); default: persisted under cacheDir. */
  persistKey?: boolean;
}

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export async function startCompanion(config: CompanionConfig, options: CompanionOptions = {}): Promise<Companion> {
  const startedAt = Date.now();
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    // Reverse order of start; keep going past a failure so nothing is left listening.
    const errors: unknown[] = [];
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => errors.push(error));
    stops.length = 0;
    if (errors.length > 0) throw new MeshError('companion_stop_failed', `stopping the companion failed: ${errors.map((e) => (e as Error).message).join('; ')}`);
  };

  try {
    const host = displayHost(config.host);
    const appServer = createServer(
      createStaticHandler([
        { prefix: '/', dir: config.distDir, spa: true },
        { prefix: '/models/', dir: config.modelsDir },
      ]),
    );
    const appPort = await listen(appServer, config.host, config.appPort, 'app', '--app-port');
    stops.push(() => close(appServer));
    const app = `http://${host}:${appPort}`;

    const nostr = await startNostrRelay({ host: config.host, port: config.nostrPort }).catch((error: unknown) => {
      throw portError(error, 'nostr', config.nostrPort, '--nostr-port');
    });
    stops.push(() => nostr.stop());

    const libp2p = await startLibp2pNode({ host: config.host, port: config.libp2pPort, keyDir: options.persistKey === false ? null : config.cacheDir }).catch((error: unknown) => {
      throw portError(error, 'libp2p', config.libp2pPort, '--libp2p-port');
    });
    stops.push(async () => {
      await libp2p.stop();
    });

    const urls: CompanionUrls = { app, nostr: `ws://${host}:${nostr.port}`, api: '', libp2p: webSocketAddress(libp2p) };
    // The app may be opened as 127.0.0.1 or localhost: both are its own origin.
    const appOrigins = [app, `http://localhost:${appPort}`, `http://127.0.0.1:${appPort}`];
    const apiServer = createServer(
      createApiHandler({
        routes: [healthRoute({ version: VERSION, startedAt, services: () => ({ ...urls }) }), ...(options.routes ?? [])],
        allowedOrigins: () => [...appOrigins, ...config.corsOrigins],
      }),
    );
    const apiPort = await listen(apiServer, config.host, config.apiPort, 'api', '--api-port');
    stops.push(() => close(apiServer));
    urls.api = `http://${host}:${apiPort}`;

    return { urls, libp2p, nostr, stop: stopAll };
  } catch (error) {
    await stopAll().catch(() => {});
    throw error;
  }
}

function listen(server: Server, host: string, port: number, name: string, flag: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (error) => reject(portError(error, name, port, flag)));
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function portError(error: unknown, name: string, port: number, flag: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE' || /EADDRINUSE/.test(String((error as Error).message))) {
    return new MeshError('port_in_use', `${name}: port ${port} is already in use (another npm start?); stop it or pick another port with ${flag}`, { cause: error });
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return new MeshError('bad_host', `${name}: cannot bind to this host (${(error as Error).message}); pick another with --host`, { cause: error });
  }
  return error as Error;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Keep-alive sockets and open streams would hold close() open; Ctrl-C must not wait for them.
    server.closeAllConnections();
  });
}
