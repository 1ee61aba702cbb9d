// Wires the companion's four services (app, nostr, api, libp2p): starts them in order, reports
// their real URLs, and stops them all, each even if another fails to stop. The api service answers
// /health and, under /v1/, the OpenAI + Anthropic API (src/api) served by the companion's own engine.
import type { SpeculativeConfig } from '../provider/speculative-mode.ts';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import {
  createApiContext,
  EngineProvider,
  errorResponse,
  handleApiRequest,
  speaks,
  type ApiContext,
  type ApiOptions,
  type ModelProvider,
} from '../api/index.ts';
import { nodeApiHandler, sendFetchResponse } from '../api/node-adapter.ts';
import { checkApiToken, generateApiToken } from './api-auth.ts';
import { createApiHandler, healthRoute } from './api-server.ts';
import type { ApiMount, ApiRoute } from './api-server.ts';
import { displayHost, isLoopbackHost } from './config.ts';
import { advertisedHost, isWildcardHost, lanAddress } from './lan-address.ts';
import type { CompanionConfig } from './config.ts';
import { startLibp2pNode, webSocketAddress } from './libp2p-node.ts';
import type { CompanionLibp2p } from './libp2p-node.ts';
import { quicAddress, quicPortError, webTransportAddress, webTransportPortError } from './native-transports.ts';
import { startNostrRelay } from './nostr-relay.ts';
import type { RunningNostrRelay } from './nostr-relay.ts';
import type { ServedModel } from './served-model.ts';
import { createStaticHandler, ISOLATION_HEADERS } from './static-server.ts';
import { TabHub } from './tab-hub.ts';
import { ensureCertificate, type TlsFiles } from './tls.ts';
import { TabRoutingProvider } from './tab-provider.ts';
import { connectRelayTrusting } from './own-relay.ts';
import { connectRelay } from '../mesh/discovery.ts';
import { MeshError } from '../protocol/errors.ts';
import { close, listen, portError } from './listen.ts';
import { join } from 'node:path';
import { loadOrCreateIdentity } from '../mesh/identity.ts';
import { FileIdentityStore } from '../mesh/identity-store-file.ts';
import { MemoryIdentityStore } from '../mesh/identity-store-memory.ts';
import { startCompanionMesh, type CompanionMesh } from '../mesh/net/companion-mesh.ts';
import { startOpenCompanionMesh, type OpenCompanionMesh } from '../mesh/net/open-companion-mesh.ts';
import { startCompanionPipeline } from './companion-mesh-pipeline.ts';
import { mergeCheckStatus } from '../mesh/pipeline/stage-check.ts';
import { serveMeshApi } from '../mesh/net/api-stream.ts';
import { onOpenMesh } from './open-mesh-provider.ts';
import { meshAdminRoutes } from './mesh-admin.ts';

export interface CompanionUrls {
  app: string;
  nostr: string;
  api: string;
  libp2p: string;
  /** The libp2p QUIC address native peers dial ('' when it listens on none). */
  quic: string;
  /** The WebTransport bridge's address when the companion started (its certificate hashes change every 6 days). */
  webtransport: string;
}

export interface Companion {
  urls: CompanionUrls;
  /** The token /v1 requires, or null when it requires none (loopback bind and no --api-token). */
  apiToken: string | null;
  /** True when apiToken was made up at start (npm start prints it). */
  apiTokenGenerated: boolean;
  libp2p: CompanionLibp2p;
  nostr: RunningNostrRelay;
  /** The app's certificate when it is served over HTTPS (--https), else null. */
  tls: TlsFiles | null;
  /** The companion's own private mesh: its invite link, members and announcement. */
  mesh: CompanionMesh;
  /** The invite link `npm start` prints: the mesh's, or with --require-credentials one with a credential (PRINTED_INVITE_TTL_S). */
  invite: string;
  /** The public or named mesh it heads too (--mesh-name), on a libp2p node of its own; its pipeline runs there. */
  openMesh?: OpenCompanionMesh;
  /** Browser tabs attached over /attach (src/companion/tab-hub.ts) and the models they serve. */
  tabs: TabHub;
  stop(): Promise<void>;
}

export interface CompanionOptions {
  /** Extra exact API routes beside /health. */
  routes?: readonly ApiRoute[];
  /** Models the API serves with no tab open (see served-model.ts); closed on stop. */
  models?: readonly ServedModel[];
  /** Speculative decoding of `models`, solo and through the mesh (--draft). */
  speculative?: SpeculativeConfig;
  /** Serves /v1 from this provider instead of one made of `models` (tests wrap the engine). */
  provider?: ModelProvider;
  /** Body limit and queue sizes of the /v1 API. */
  api?: Omit<ApiOptions, 'provider'>;
  /** false: a fresh libp2p key for this run only (tests); default: persisted under cacheDir. */
  persistKey?: boolean;
  /** Forward requests for a model the companion serves itself to an attached tab that serves it too. */
  preferTabs?: boolean;
}

/** How long the invite `npm start` prints stays valid when members need a credential (--require-credentials). */
export const PRINTED_INVITE_TTL_S = 7 * 24 * 3600;
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export async function startCompanion(config: CompanionConfig, options: CompanionOptions = {}): Promise<Companion> {
  const startedAt = Date.now();
  let urls: CompanionUrls = { app: '', nostr: '', api: '', libp2p: '', quic: '', webtransport: '' };
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    // Reverse order of start; keep going past a failure so nothing is left listening.
    const errors: unknown[] = [];
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => errors.push(error));
    stops.length = 0;
    if (errors.length > 0) throw new MeshError('companion_stop_failed', `stopping the companion failed: ${errors.map((e) => (e as Error).message).join('; ')}`);
  };

  for (const m of options.models ?? []) stops.push(() => m.close());
  try {
    // What other machines reach: for a wildcard bind the default route's address, read from the OS.
    const lan = isWildcardHost(config.host) ? await lanAddress() : undefined;
    const host = advertisedHost(config.host, config.publicHost, lan);
    // How the companion reaches its own services: a public name may resolve elsewhere, or not at all, here.
    const localHost = displayHost(config.host);
    const serveStatic = createStaticHandler(
      [
        { prefix: '/', dir: config.distDir, spa: true },
        { prefix: '/models/', dir: config.modelsDir },
      ],
      config.embedOrigins,
    );
    // The private mesh's invite link, for the app's Home to share (QR code) and join: set once the mesh is up.
    let meshInvite: string | undefined;
    const appHandler = (req: IncomingMessage, res: ServerResponse) => {
      // Tells the app's pages and service worker where this companion's API is (its port may be chosen late).
      if (req.url?.split('?')[0] === COMPANION_INFO_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
        return void res.writeHead(200, { ...ISOLATION_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }).end(
          JSON.stringify({
            api: apiUrlFor(req.headers.host, urls.api),
            embed_origins: config.embedOrigins,
            nostr: apiUrlFor(req.headers.host, urls.nostr),
            ...(meshInvite && fromThisMachine(req) ? { invite: meshInvite } : {}),
          }),
        );
      }
      serveStatic(req, res);
    };
    // Over HTTPS every service is secure (app https, API https + wss /attach, Nostr wss, libp2p /tls/ws),
    // all with one certificate naming loopback, the bind host, the public host and the LAN address: an
    // https page may open no plain http/ws connection to another host (mixed content), so a LAN tab
    // needs every one of them secure.
    const tls = config.https ? await ensureCertificate(config.cacheDir, [config.host, config.publicHost, lan ?? '']) : null;
    const keyPair = tls ? { cert: tls.cert, key: tls.key } : undefined;
    const appServer = tls ? createHttpsServer({ ...keyPair }, appHandler) : createServer(appHandler);
    const appPort = await listen(appServer, config.host, config.appPort, 'app', '--app-port');
    stops.push(() => close(appServer));
    const scheme = tls ? 'https' : 'http';
    const app = `${scheme}://${host}:${appPort}`;

    const nostr = await startNostrRelay({ host: config.host, port: config.nostrPort, tls: keyPair }).catch((error: unknown) => {
      throw portError(error, 'nostr', config.nostrPort, '--nostr-port');
    });
    stops.push(() => nostr.stop());

    // One identity for Nostr and libp2p, bound to each other (src/mesh/identity.ts); persisted like the old key.
    const persist = options.persistKey !== false;
    const { identity } = await loadOrCreateIdentity(persist ? new FileIdentityStore(join(config.cacheDir, 'mesh-identity.json')) : new MemoryIdentityStore());
    const libp2p = await startLibp2pNode({
      host: config.host,
      port: config.libp2pPort,
      keyDir: persist ? config.cacheDir : null,
      privateKey: identity.libp2pKey,
      tls: keyPair,
      quicPort: config.quicPort,
      webTransportPort: config.webTransportPort,
      hosts: [config.publicHost, lan ?? ''].filter((h) => h !== ''),
    }).catch((error: unknown) => {
      throw webTransportPortError(error) ?? quicPortError(error, config.quicPort) ?? portError(error, 'libp2p', config.libp2pPort, '--libp2p-port');
    });
    stops.push(async () => {
      await libp2p.stop();
    });

    urls = {
      app,
      nostr: `${tls ? 'wss' : 'ws'}://${host}:${nostr.port}`,
      api: '',
      libp2p: webSocketAddress(libp2p, host),
      quic: quicAddress(libp2p, host) ?? '',
      webtransport: webTransportAddress(libp2p, host) ?? '',
    };
    // Its announcements go to its own relay, whatever URL the invite names for it (over wss trusting its certificate).
    const ownRelay = `${tls ? 'wss' : 'ws'}://${localHost}:${nostr.port}`;
    const connectOwnRelay = () => (tls ? connectRelayTrusting(ownRelay, tls.cert) : connectRelay(ownRelay));
    const mesh = await startCompanionMesh({
      libp2p,
      identity,
      cacheDir: persist ? config.cacheDir : null,
      appUrl: app,
      nostrUrl: urls.nostr,
      libp2pAddress: urls.libp2p,
      ...(urls.quic ? { quicAddress: urls.quic } : {}),
      webTransportAddress: () => webTransportAddress(libp2p, host),
      models: (options.models ?? []).map((m) => m.info.id),
      connectRelay: connectOwnRelay,
      requireCredentials: config.requireCredentials,
      iceServers: config.iceServers,
    });
    stops.push(() => mesh.stop());
    // Where members need a credential, the invite printed and given to this machine's pages carries one.
    const printedInvite = () => (config.requireCredentials ? mesh.issueInvite({ ttlS: PRINTED_INVITE_TTL_S }).link : mesh.link);
    meshInvite = printedInvite();
    // A public or named mesh: its own libp2p node (one node answers membership for one mesh) on a
    // free port, and an identity of its own (kept, like the private one: its key is the `head=` of the
    // mesh's link, which must stay valid across restarts).
    let openMesh: OpenCompanionMesh | undefined;
    if (config.meshName) {
      const { identity: openIdentity } = await loadOrCreateIdentity(
        persist ? new FileIdentityStore(join(config.cacheDir, 'open-mesh-identity.json')) : new MemoryIdentityStore(),
      );
      const openLibp2p = await startLibp2pNode({ host: config.host, port: 0, keyDir: null, privateKey: openIdentity.libp2pKey, tls: keyPair });
      stops.push(async () => {
        await openLibp2p.stop();
      });
      openMesh = await startOpenCompanionMesh({
        libp2p: openLibp2p,
        identity: openIdentity,
        name: config.meshName,
        visibility: config.meshVisibility,
        appUrl: app,
        nostrUrl: urls.nostr,
        libp2pAddress: webSocketAddress(openLibp2p, host),
        models: (options.models ?? []).map((m) => m.info.id),
        log: (line) => console.error(`start: ${line}`),
        connectRelay: connectOwnRelay,
      });
      stops.push(() => openMesh?.stop() ?? Promise.resolve());
    }
    // The app may be opened as 127.0.0.1, localhost or (on this machine too) its LAN address: all its own origin.
    const appOrigins = [app, `${scheme}://localhost:${appPort}`, `${scheme}://127.0.0.1:${appPort}`, ...(lan ? [`${scheme}://${lan}:${appPort}`] : [])];
    const apiToken = config.apiToken || (isLoopbackHost(config.host) ? null : generateApiToken());
    // The served model through the mesh's server tabs when a plan of theirs is ready (src/mesh/pipeline/).
    const pipeline = options.provider
      ? undefined
      : await startCompanionPipeline({
          node: apiMesh<{ node: CompanionMesh['node'] }>(config, mesh, openMesh).node,
          models: options.models ?? [],
          modelsDir: config.modelsDir,
          ...(options.speculative ? { speculative: options.speculative } : {}),
          log: (line) => console.error(`start: ${line}`),
        });
    if (pipeline) stops.push(async () => pipeline.stop());
    const allowedOrigins = () => [...appOrigins, ...config.corsOrigins];
    // Tabs attach on the API port (/attach) and serve models the companion may not have itself.
    const tabs = new TabHub({ allowedOrigins, token: apiToken, log: (line) => console.error(`companion: ${line}`) });
    const onOpen = openMesh !== undefined && apiMesh<{ node: unknown }>(config, mesh, openMesh) === openMesh;
    const local =
      options.provider ??
      (pipeline && onOpen ? onOpenMesh(pipeline.provider) : pipeline?.provider) ??
      new EngineProvider(
        (options.models ?? []).map((m) => m.model),
        options.speculative ? { speculative: options.speculative } : {},
      );
    const provider = new TabRoutingProvider(local, tabs, { preferTabs: options.preferTabs });
    // One context, so HTTP clients and mesh members share the model queues (fair by client: a member by its peer id).
    const apiContext = createApiContext({ ...options.api, provider });
    for (const head of [mesh, openMesh]) {
      if (head)
        await serveMeshApi(
          head.node,
          (request, info) => handleApiRequest(request, apiContext, info),
          (line) => console.error(`companion: ${line}`),
        );
    }
    const apiHandler = createApiHandler({
      routes: [
        healthRoute({
          version: VERSION,
          startedAt,
          services: () => ({ ...urls }),
          models: () => (options.models ?? []).map((m) => m.info),
          token: isLoopbackHost(config.host) ? null : apiToken,
          ...(pipeline ? { stageChecks: () => mergeCheckStatus(pipeline.heads.map((h) => h.provider.checks())) } : {}),
        }),
        ...meshAdminRoutes(
          {
            issueInvite: (o) => mesh.issueInvite(o),
            revoke: (o) => mesh.revoke(o),
            // After a rotation this machine's pages are handed the new mesh's invite.
            rotate: async (o) => {
              const rotation = await mesh.rotate(o);
              meshInvite = printedInvite();
              return rotation;
            },
          },
          apiToken,
        ),
        ...(options.routes ?? []),
      ],
      mounts: [v1Mount(apiContext, apiToken)],
      allowedOrigins,
      loopbackOnly: isLoopbackHost(config.host),
    });
    const apiServer = tls ? createHttpsServer({ ...keyPair }, apiHandler) : createServer(apiHandler);
    apiServer.on('upgrade', (req, socket, head) => {
      if (!tabs.handleUpgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
    });
    // Longer than SDK clients keep idle sockets: a pooled connection a client reuses is never one this
    // server is closing at that moment (which the client would see as ECONNRESET).
    apiServer.keepAliveTimeout = 65_000;
    const apiPort = await listen(apiServer, config.host, config.apiPort, 'api', '--api-port');
    stops.push(() => close(apiServer));
    stops.push(() => tabs.close());
    urls.api = `${scheme}://${host}:${apiPort}`;

    return {
      urls,
      invite: meshInvite,
      apiToken,
      apiTokenGenerated: apiToken !== null && !config.apiToken,
      tls,
      libp2p,
      nostr,
      mesh,
      ...(openMesh ? { openMesh } : {}),
      tabs,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll().catch(() => {});
    throw error;
  }
}

/**
 * Where the app server publishes `{"api": "<url of this companion's API>", "embed_origins": [...]}`:
 * the widget's frame serves only the host sites listed (none unless `--embed-origin` names them);
 * to pages of this machine, also `"invite"`: the private mesh's invite link (what npm start prints).
 */
export const COMPANION_INFO_PATH = '/companion.json';

/**
 * The API's URL as the asking browser reaches this machine: the host it used for the app (which may
 * be a LAN name when bound to 0.0.0.0) with the API's port.
 */
function apiUrlFor(hostHeader: string | undefined, api: string): string {
  if (!hostHeader || !api) return api;
  try {
    const url = new URL(api);
    url.hostname = new URL(`http://${hostHeader}`).hostname;
    return url.origin;
  } catch {
    return api;
  }
}

/**
 * Only a page of this machine, asking by a loopback name, is given the mesh secret (in the invite):
 * the same trust as the API without a token. The Host check keeps a DNS-rebound page out.
 */
function fromThisMachine(req: IncomingMessage): boolean {
  const address = req.socket.remoteAddress ?? '';
  const loopback = address === '::1' || /^(::ffff:)?127\./.test(address);
  let host = '';
  try {
    host = new URL(`http://${req.headers.host ?? ''}`).hostname;
  } catch {
    return false;
  }
  return loopback && isLoopbackHost(host);
}

/** /v1/…: the OpenAI + Anthropic API, behind the bearer token when there is one. */
/** The mesh whose peers run the API's pipeline: never strangers' (they would see every prompt) unless asked. */
export function apiMesh<M>(config: Pick<CompanionConfig, 'serveApiOnOpenMesh'>, mesh: M, openMesh: M | undefined): M {
  return config.serveApiOnOpenMesh && openMesh ? openMesh : mesh;
}

function v1Mount(api: ApiContext, token: string | null): ApiMount {
  const serve = nodeApiHandler(api);
  return {
    prefix: '/v1/',
    async handle({ req, res }) {
      const refused = token === null ? null : checkApiToken(req, token);
      if (!refused) return serve(req, res);
      req.resume(); // the body is not read: let it drain so the connection stays usable
      // Only the path and anthropic-version decide the error's shape.
      const head = new Request(new URL(req.url ?? '/', 'http://api.invalid'), {
        headers: req.headers['anthropic-version'] ? { 'anthropic-version': '1' } : {},
      });
      await sendFetchResponse(res, errorResponse(refused, speaks(head), { 'www-authenticate': 'Bearer realm="mesh-llm"' }));
    },
  };
}
