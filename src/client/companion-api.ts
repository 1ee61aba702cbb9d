// Where the app reaches a companion's API (npm start's /v1 server), shared by the page and the
// service worker: a saved setting wins, else what the serving companion publishes at
// /companion.json, else the default port on this machine.

export const DEFAULT_COMPANION_API = 'http://127.0.0.1:9337';

export interface CompanionApi {
  /** Origin (and optional path prefix) of the companion's API, without /v1. */
  url: string;
  /** Bearer token, for a companion bound beyond loopback. */
  token?: string;
}

export class CompanionApiError extends Error {
  readonly code = 'companion_api_invalid';
  constructor(message: string) {
    super(message);
    this.name = 'CompanionApiError';
  }
}

// Cache Storage is the one store both a page and its service worker can read (no localStorage in workers).
const SETTINGS_CACHE = 'mesh-settings';
const SETTINGS_KEY = '/__mesh/settings/companion-api';

/** Checks and normalises a setting: an http(s) URL with no query, trailing slash dropped. */
export function normaliseCompanionApi(setting: CompanionApi): CompanionApi {
  let url: URL;
  try {
    url = new URL(setting.url);
  } catch {
    throw new CompanionApiError(`the companion API address ${JSON.stringify(setting.url)} is not a URL; write it as http://127.0.0.1:9337`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CompanionApiError(`the companion API must be http(s), got ${url.protocol}`);
  const base = `${url.origin}${url.pathname.replace(/\/+$/, '').replace(/\/v1$/, '')}`;
  return setting.token ? { url: base, token: setting.token } : { url: base };
}

/** Saves (or with null, forgets) the companion API this origin's pages and worker use. */
export async function saveCompanionApi(setting: CompanionApi | null): Promise<void> {
  const cache = await caches.open(SETTINGS_CACHE);
  if (setting === null) {
    await cache.delete(SETTINGS_KEY);
    return;
  }
  const value = normaliseCompanionApi(setting);
  await cache.put(SETTINGS_KEY, new Response(JSON.stringify(value), { headers: { 'content-type': 'application/json' } }));
}

export async function savedCompanionApi(): Promise<CompanionApi | null> {
  if (typeof caches === 'undefined') return null;
  let hit: Response | undefined;
  try {
    hit = await (await caches.open(SETTINGS_CACHE)).match(SETTINGS_KEY);
  } catch {
    return null; // storage blocked (a third-party frame such as the widget's): no saved setting here
  }
  if (!hit) return null;
  try {
    return normaliseCompanionApi((await hit.json()) as CompanionApi);
  } catch {
    return null; // a damaged entry is as good as none
  }
}

/** What the companion serving this app says about itself, if this app is served by one. */
export async function publishedCompanionApi(origin: string, fetchFn: typeof fetch = fetch): Promise<CompanionApi | null> {
  try {
    const res = await fetchFn(`${origin}/companion.json`, { cache: 'no-store', signal: AbortSignal.timeout(2000) });
    if (!res.ok || !res.headers.get('content-type')?.includes('json')) return null;
    const body = (await res.json()) as { api?: unknown };
    return typeof body.api === 'string' ? normaliseCompanionApi({ url: body.api }) : null;
  } catch {
    return null;
  }
}

/**
 * Resolves the companion API to use, remembering the published address for `ttlMs` (the saved
 * setting is read every time, so a change applies to the next request).
 */
export function companionApiResolver(origin: string, options: { fetch?: typeof fetch; ttlMs?: number } = {}): () => Promise<CompanionApi> {
  let published: { value: CompanionApi | null; at: number } | null = null;
  const ttl = options.ttlMs ?? 30_000;
  return async () => {
    const saved = await savedCompanionApi();
    if (saved) return saved;
    if (!published || Date.now() - published.at > ttl) published = { value: await publishedCompanionApi(origin, options.fetch), at: Date.now() };
    return published.value ?? { url: DEFAULT_COMPANION_API };
  };
}
