// apiFetch: how the app's own code calls its API. A page the service worker controls just fetches
// /v1/… (the worker answers); on a first load or a hard reload nothing intercepts, so the same
// route logic runs here in the page instead, with this page's own providers (its tab engine). A tab
// in a mesh sends /v1 to the mesh's head over libp2p, which lives on the page (the service worker
// cannot reach it), so it answers here too.
import { createApiRoute, type ApiRouteOptions } from './api-route.ts';
import { companionApiResolver } from './companion-api.ts';
import { thisPageProviders } from './page-api.ts';

type ApiFetch = (input: string | URL, init?: RequestInit) => Promise<Response>;

export interface ApiFetchOptions {
  /** The mesh this tab is in (mesh-join.ts meshFetch): asked first; undefined when in none. */
  readonly mesh?: ApiRouteOptions['mesh'];
  /** Whether this tab is in a mesh now: then its requests stay on the page, where the mesh is. */
  readonly inMesh?: () => boolean;
}

export function createApiFetch(options: ApiFetchOptions = {}): ApiFetch {
  let pageRoute: ((request: Request) => Promise<Response>) | undefined;
  return (input, init) => {
    const request = new Request(new URL(input, location.href), init);
    if (navigator.serviceWorker?.controller && !options.inMesh?.()) return fetch(request);
    pageRoute ??= createApiRoute({
      companion: companionApiResolver(location.origin),
      local: thisPageProviders(),
      via: 'page',
      ...(options.mesh ? { mesh: options.mesh } : {}),
    });
    return pageRoute(request);
  };
}

/** apiFetch for a page that joins no mesh (the widget's frame). */
export const apiFetch: ApiFetch = createApiFetch();
