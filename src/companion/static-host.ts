// `npm start -- --static-only`: what a mesh headed by a tab needs from a server, and nothing more:
// the built app with the cross-origin isolation headers, the generated test models under /models/,
// and a Nostr relay. No API, no libp2p node, no engine, no invite and no /companion.json: a page
// served from here finds no companion, as on any static host.
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { CompanionConfig } from './config.ts';
import { advertisedHost, isWildcardHost, lanAddress } from './lan-address.ts';
import { close, listen, portError } from './listen.ts';
import { type RunningNostrRelay, startNostrRelay } from './nostr-relay.ts';
import { createStaticHandler } from './static-server.ts';
import { ensureCertificate, type TlsFiles } from './tls.ts';

export interface StaticHost {
  readonly urls: { readonly app: string; readonly nostr: string };
  readonly nostr: RunningNostrRelay;
  readonly tls: TlsFiles | null;
  stop(): Promise<void>;
}

export async function startStaticHost(config: CompanionConfig): Promise<StaticHost> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
    stops.length = 0;
  };
  try {
    const lan = isWildcardHost(config.host) ? await lanAddress() : undefined;
    const host = advertisedHost(config.host, config.publicHost, lan);
    const tls = config.https ? await ensureCertificate(config.cacheDir, [config.host, config.publicHost, lan ?? '']) : null;
    const keyPair = tls ? { cert: tls.cert, key: tls.key } : undefined;
    const handler = createStaticHandler([
      { prefix: '/', dir: config.distDir, spa: true },
      { prefix: '/models/', dir: config.modelsDir },
    ]);
    const appServer = keyPair ? createHttpsServer(keyPair, handler) : createServer(handler);
    const appPort = await listen(appServer, config.host, config.appPort, 'app', '--app-port');
    stops.push(() => close(appServer));
    const nostr = await startNostrRelay({ host: config.host, port: config.nostrPort, tls: keyPair }).catch((error: unknown) => {
      throw portError(error, 'nostr', config.nostrPort, '--nostr-port');
    });
    stops.push(() => nostr.stop());
    const urls = { app: `${tls ? 'https' : 'http'}://${host}:${appPort}`, nostr: `${tls ? 'wss' : 'ws'}://${host}:${nostr.port}` };
    return { urls, nostr, tls, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
