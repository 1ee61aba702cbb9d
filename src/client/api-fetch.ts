// apiFetch: how the app's own code calls its API. A page the service worker controls just fetches
// /v1/… (the worker answers); on a first load or a hard reload nothing intercepts, so the same
// route logic runs here in the page instead, with this page's own providers (its tab engine).
import { createApiRoute } from './api-route.ts';
import { companionApiResolver } from './companion-api.ts';
import { thisPageProviders } from './page-api.ts';

let pageRoute: ((request: Request) => Promise<Response>) | undefined;

export function apiFetch(input: string | URL, init?: RequestInit): Promise<Response> {
  const request = new Request(new URL(input, location.href), init);
  if (navigator.serviceWorker?.controller) return fetch(request);
  pageRoute ??= createApiRoute({ companion: companionApiResolver(location.origin), local: thisPageProviders(), via: 'page' });
  return pageRoute(request);
}
