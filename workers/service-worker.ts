// The service worker (built to dist/sw.js, scope '/'): keeps the app shell in a versioned cache so the
// app opens offline (a new version downloads only the files that changed), and answers the in-browser API (/v1/*, see src/client/api-route.ts).
// Built on its own into one classic script (no imports at run time), so it may import small src/ modules.
import type { PrecacheManifest } from '../src/protocol/service-worker-messages.ts';
import { isPageToWorkerMessage, SW_PROTOCOL_VERSION } from '../src/protocol/service-worker-messages.ts';
import { createApiRoute } from '../src/client/api-route.ts';
import { companionApiResolver } from '../src/client/companion-api.ts';
import { errorResponse, speaks } from '../src/api/index.ts';
import { ApiBridge } from './service-worker/api-bridge.ts';
import { installShell } from './service-worker/precache.ts';
import { ShellRoutes } from './service-worker/routes.ts';

// Defined at build time by tools/build/service-worker-plugin.ts: the shell's file list and version.
declare const __MESH_PRECACHE_MANIFEST__: PrecacheManifest;

const worker = self as unknown as ServiceWorkerGlobalScope;
const manifest = __MESH_PRECACHE_MANIFEST__;
const CACHE_PREFIX = 'mesh-shell-';
const cacheName = CACHE_PREFIX + manifest.version;
const routes = new ShellRoutes(worker.registration.scope, manifest.files);
// Pages that run a model (the tab's engine, a mesh provider) answer the /v1 requests the companion cannot.
const bridge = new ApiBridge({
  clients: {
    get: async (id) => (await worker.clients.get(id)) ?? undefined,
    matchAll: () => worker.clients.matchAll({ type: 'window', includeUncontrolled: true }),
  },
  errorResponse: (error, request) => errorResponse(error, speaks(request)),
});
const api = createApiRoute({ companion: companionApiResolver(new URL(worker.registration.scope).origin), local: bridge, via: 'service-worker' });

worker.addEventListener('install', (event) => {
  // No skipWaiting here: a new version waits until the page asks (see the 'skip-waiting' message),
  // so an open tab never runs old page code against a new cache.
  // Files whose content an older version's cache holds are copied from it, not downloaded again.
  const wanted = Object.fromEntries(manifest.files.map((file) => [routes.resolve(file), manifest.hashes[file]]));
  event.waitUntil(installShell(caches, cacheName, CACHE_PREFIX, worker.registration.scope, wanted));
});

worker.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(names.filter((n) => n.startsWith(CACHE_PREFIX) && n !== cacheName).map((n) => caches.delete(n)));
      // The first visit becomes controlled without a reload, so it already works offline.
      await worker.clients.claim();
    })(),
  );
});

worker.addEventListener('message', (event) => {
  if (!isPageToWorkerMessage(event.data)) return;
  if (event.data.type === 'skip-waiting') {
    event.waitUntil(worker.skipWaiting());
  } else if (event.data.type === 'api-server') {
    const source = event.source as Client | null;
    if (source && source.type === 'window') bridge.onServer(source.id, event.data);
    event.ports[0]?.postMessage({ v: SW_PROTOCOL_VERSION, type: 'api-server-ack' });
  } else if (event.data.type === 'shell-version') {
    const reply = { v: SW_PROTOCOL_VERSION, type: 'shell-version', version: manifest.version, cache: cacheName, files: manifest.files.length };
    (event.ports[0] ?? event.source)?.postMessage(reply);
  }
});

worker.addEventListener('fetch', (event) => {
  const request = event.request;
  const route = routes.route({ url: request.url, method: request.method, mode: request.mode });
  switch (route.kind) {
    case 'api':
      // Never cached: a page's mesh provider, the companion's API, a page's tab engine, else a 503 in the client's protocol.
      event.respondWith(api(request));
      return;
    case 'navigation':
      event.respondWith(fromCache(event, route.cacheKey, true));
      return;
    case 'shell':
      event.respondWith(fromCache(event, route.cacheKey, false));
      return;
    case 'network':
      return;
  }
});

let lastUpdateCheck = 0;

/**
 * Cache first. The "network update" of a versioned shell is a new sw.js: files inside one cache are
 * never replaced one by one (a new index.html beside old hashed assets would break offline start), so a
 * navigation asks the browser to look for a new worker instead, at most once a minute.
 */
async function fromCache(event: FetchEvent, key: string, isNavigation: boolean): Promise<Response> {
  const cache = await caches.open(cacheName);
  const cached = await cache.match(key);
  if (isNavigation && Date.now() - lastUpdateCheck > 60_000) {
    lastUpdateCheck = Date.now();
    event.waitUntil(worker.registration.update().catch(() => undefined));
  }
  if (cached) return cached;
  // Evicted or never stored: fetch it, and put it back when it is the file this version expects.
  const response = await fetch(isNavigation ? key : event.request);
  if (response.ok && response.type === 'basic') event.waitUntil(cache.put(key, response.clone()));
  return response;
}
