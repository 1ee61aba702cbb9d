// The in-browser answer to `fetch('/v1/…')`, used by the service worker and (when the page is not
// controlled yet) by apiFetch on the page itself. Until a tab engine or the mesh can serve, it
// forwards to the companion's API when that is reachable, streaming the answer through; otherwise
// the API layer answers with an error in the client's protocol (a 503 "no peer can serve" for
// generation requests, an empty model list for GET /v1/models).
import { createApiContext, handleApiRequest, type ApiContext, type ModelProvider } from '../api/index.ts';
import type { CompanionApi } from './companion-api.ts';

export interface ApiRouteOptions {
  /** Where the companion's API is (asked per request: the setting may change). */
  companion: () => Promise<CompanionApi>;
  fetch?: typeof fetch;
  /** Serves when the companion cannot: the tab's own engine or the mesh, once they exist. */
  local?: ModelProvider;
  /**
   * The mesh this tab is in (mesh-join.ts meshFetch): asked first, before the companion; undefined
   * when not in one. A mesh whose head cannot be reached is passed over for the companion.
   */
  mesh?: (request: Request) => Promise<Response> | undefined;
  /** Marks answers, e.g. "service-worker" or "page" (x-mesh-via), for debugging and tests. */
  via: string;
}

/** Serves nothing: every generation request gets a 503 in its protocol's shape. */
const NO_MODELS: ModelProvider = {
  listModels: () => [],
  modelText: () => Promise.reject(new Error('no model is served in this tab')),
  generate: () => Promise.reject(new Error('no model is served in this tab')),
};

// Hop-by-hop or browser-managed: never copied onto the forwarded request.
const SKIP_HEADERS = new Set(['host', 'origin', 'referer', 'cookie', 'content-length', 'connection', 'accept-encoding']);

export function createApiRoute(options: ApiRouteOptions): (request: Request) => Promise<Response> {
  const fetchFn = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  let ctx: ApiContext | undefined;
  const context = (companionUrl: string): ApiContext =>
    (ctx ??= createApiContext({
      provider: options.local ?? NO_MODELS,
      noModelHint: `no companion API answered at ${companionUrl} and no tab here runs a model; start one with npm start (or set the companion's address in the app), then retry`,
    }));

  return async (request) => {
    const url = new URL(request.url);
    // Read once: it is sent to the companion, and again to the local API if the companion is away.
    const body = request.method === 'GET' || request.method === 'HEAD' ? null : await request.arrayBuffer();
    const viaMesh = options.mesh?.(new Request(request.url, { method: request.method, headers: request.headers, body, signal: request.signal }));
    if (viaMesh) {
      try {
        return relabel(await viaMesh, options.via, 'mesh');
      } catch (error) {
        if (request.signal.aborted) throw error;
        // The head is unreachable (restarting, link lost): the companion or the local API answers.
      }
    }
    const companion = await options.companion();
    const headers = new Headers();
    request.headers.forEach((value, name) => { if (!SKIP_HEADERS.has(name)) headers.set(name, value); });
    if (companion.token && !headers.has('authorization') && !headers.has('x-api-key')) headers.set('authorization', `Bearer ${companion.token}`);
    try {
      const upstream = await fetchFn(`${companion.url}${url.pathname}${url.search}`, {
        method: request.method, headers, body, signal: request.signal, mode: 'cors', credentials: 'omit', cache: 'no-store', redirect: 'error',
      });
      return relabel(upstream, options.via, 'companion');
    } catch (error) {
      if (request.signal.aborted) throw error;
      // Unreachable (nothing listening, refused by CORS): the local API answers instead.
    }
    const local = new Request(request.url, { method: request.method, headers: request.headers, body, signal: request.signal });
    return relabel(await handleApiRequest(local, context(companion.url), { clientKey: options.via }), options.via, 'local');
  };
}

/** A fresh Response (readable headers of a cross-origin answer included) saying who answered. */
function relabel(response: Response, via: string, by: string): Response {
  const headers = new Headers(response.headers);
  headers.set('x-mesh-via', `${via}; ${by}`);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
