// The in-browser answer to `fetch('/v1/…')`, used by the service worker and (when the page is not
// controlled yet, or is in a mesh) by apiFetch on the page itself. A tab in a mesh asks the mesh's
// head first (over libp2p), for every request. Then, per request model, in order: a page provider
// ranked above the companion (the mesh), the companion's API over HTTP (streamed through), a page
// provider below it (the tab's own engine), else an error in the client's protocol (a 503 "no peer
// can serve"). GET /v1/models merges the lists and says where each model runs (`served_from`).
import { createApiContext, errorResponse, handleApiRequest, speaks, type ApiContext, type ModelProvider } from '../api/index.ts';
import { ApiError } from '../protocol/api-error.ts';
import { MeshError } from '../protocol/errors.ts';
import type { ServedModel } from '../protocol/service-worker-messages.ts';
import type { CompanionApi } from './companion-api.ts';
import { COMPANION_PRIORITY, MESH_PROVIDER, type LocalApi } from './page-api.ts';
import { isModelList, requestedModel } from './request-model.ts';

export interface ApiRouteOptions {
  /** Where the companion's API is (asked per request: the setting may change). */
  companion: () => Promise<CompanionApi>;
  fetch?: typeof fetch;
  /** The page's providers (a page), or the page that serves them (the service worker's bridge). */
  local?: LocalApi;
  /**
   * The mesh this tab is in (mesh-join.ts meshFetch): asked first, before the companion; undefined
   * when not in one. A head that cannot be reached is passed over for the companion; a model the
   * head does not serve (404) is answered by the page's own providers when they serve it.
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
  const nobody = (companionUrl: string): ApiContext =>
    (ctx ??= createApiContext({
      provider: NO_MODELS,
      noModelHint: `no companion API answered at ${companionUrl} and no tab here runs a model; start one with npm start, or open Models and choose "Use in this tab", then retry`,
    }));

  return async (request) => {
    const url = new URL(request.url);
    // Read once: it may go to the companion, and then to a local provider.
    const body = request.method === 'GET' || request.method === 'HEAD' ? null : await request.arrayBuffer();
    const again = () => new Request(request.url, { method: request.method, headers: request.headers, body, signal: request.signal });
    const listed = options.local ? await options.local.served().catch(() => [] as ServedModel[]) : [];
    // The page's mesh entry is for the service worker, which cannot reach the mesh: here the mesh was
    // asked directly, and one that failed is passed over for the companion, not asked again.
    const served = options.mesh ? listed.filter((m) => m.from !== MESH_PROVIDER) : listed;
    const model = requestedModel(url, request.method, body);
    const owner = model === undefined ? undefined : served.find((m) => m.id === model);
    const isList = isModelList(url, request.method);
    const local = async (by: string) => relabel(await options.local!.serve(again()), options.via, by);

    const viaMesh = options.mesh?.(again());
    let meshFailure: unknown;
    if (viaMesh) {
      try {
        const answer = await viaMesh;
        if (!(owner && answer.status === 404)) return relabel(answer, options.via, 'mesh');
        await answer.body?.cancel().catch(() => {});
        return local(owner.from);
      } catch (error) {
        if (request.signal.aborted) throw error;
        // The head is unreachable (restarting, link lost): the companion or the local API answers.
        meshFailure = error;
      }
    }

    if (owner && owner.priority > COMPANION_PRIORITY) return local(owner.from);
    const companion = await options.companion();
    const upstream = await forward(request, url, body, companion, fetchFn);
    if (upstream) {
      if (isList && served.length && upstream.ok) return mergeLists(upstream, await options.local!.serve(again()), served, options.via);
      // The companion does not serve it (or serves nothing now): a page provider below it does.
      if (owner && (upstream.status === 404 || upstream.status === 503)) {
        await upstream.body?.cancel().catch(() => {});
        return local(owner.from);
      }
      return relabel(upstream, options.via, 'companion');
    }
    if (served.length) {
      const response = await local(owner?.from ?? 'local');
      return isList ? annotateList(response, served) : response;
    }
    // Nobody else answers: a head that left says so, rather than "no companion".
    if (meshFailure instanceof MeshError && meshFailure.code === 'mesh_head_left')
      return relabel(
        errorResponse(new ApiError('unavailable', meshFailure.message, { code: 'mesh_head_left', cause: meshFailure }), speaks(request)),
        options.via,
        'mesh',
      );
    return relabel(await handleApiRequest(again(), nobody(companion.url), { clientKey: options.via }), options.via, 'local');
  };
}

/** The companion's answer, or undefined when it cannot be reached (nothing listening, refused by CORS). */
async function forward(request: Request, url: URL, body: ArrayBuffer | null, companion: CompanionApi, fetchFn: typeof fetch): Promise<Response | undefined> {
  const headers = new Headers();
  request.headers.forEach((value, name) => {
    if (!SKIP_HEADERS.has(name)) headers.set(name, value);
  });
  if (companion.token && !headers.has('authorization') && !headers.has('x-api-key')) headers.set('authorization', `Bearer ${companion.token}`);
  try {
    return await fetchFn(`${companion.url}${url.pathname}${url.search}`, {
      method: request.method,
      headers,
      body,
      signal: request.signal,
      mode: 'cors',
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
    });
  } catch (error) {
    if (request.signal.aborted) throw error;
    return undefined;
  }
}

type ModelList = { data?: ({ id?: unknown } & Record<string, unknown>)[] } & Record<string, unknown>;

async function readList(response: Response): Promise<ModelList | undefined> {
  if (!response.ok || !response.headers.get('content-type')?.includes('json')) return undefined;
  try {
    const list = (await response.json()) as ModelList;
    return Array.isArray(list?.data) ? list : undefined;
  } catch {
    return undefined;
  }
}

/** Both lists in priority order (page providers above the companion first), each id once, each saying where it runs. */
async function mergeLists(upstream: Response, localResponse: Response, served: ServedModel[], via: string): Promise<Response> {
  const [theirs, ours] = await Promise.all([readList(upstream.clone()), readList(localResponse)]);
  if (!theirs) return relabel(upstream, via, 'companion');
  const rank = new Map(served.map((m) => [m.id, m]));
  const mine = (ours?.data ?? []).filter((m) => typeof m.id === 'string' && rank.has(m.id));
  const above = mine.filter((m) => rank.get(m.id as string)!.priority > COMPANION_PRIORITY);
  const below = mine.filter((m) => rank.get(m.id as string)!.priority <= COMPANION_PRIORITY);
  const seen = new Set<unknown>();
  const data = [];
  for (const m of [...above, ...theirs.data!.map((m) => ({ ...m, served_from: 'companion' })), ...below]) {
    if (seen.has(m.id)) continue;
    seen.add(m.id);
    data.push(rank.has(m.id as string) && !('served_from' in m) ? { ...m, served_from: rank.get(m.id as string)!.from } : m);
  }
  const headers = new Headers(upstream.headers);
  headers.delete('content-length');
  headers.set('x-mesh-via', `${via}; companion, ${[...new Set(mine.map((m) => rank.get(m.id as string)!.from))].join(', ')}`);
  return Response.json({ ...theirs, data }, { status: 200, headers });
}

/** A list answered by the page's providers alone, each model saying which provider runs it. */
async function annotateList(response: Response, served: ServedModel[]): Promise<Response> {
  const list = await readList(response.clone());
  if (!list) return response;
  const from = new Map(served.map((m) => [m.id, m.from]));
  const headers = new Headers(response.headers);
  headers.delete('content-length');
  return Response.json(
    { ...list, data: list.data!.map((m) => ({ ...m, served_from: from.get(m.id as string) ?? 'local' })) },
    { status: response.status, headers },
  );
}

/** A fresh Response (readable headers of a cross-origin answer included) saying who answered. */
function relabel(response: Response, via: string, by: string): Response {
  const headers = new Headers(response.headers);
  headers.set('x-mesh-via', `${via}; ${by}`);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
