// Which strategy the service worker uses for a request. Pure, so the rules are unit-tested without a
// browser: the worker itself (workers/service-worker.ts) only carries them out.

export type Route =
  /** OpenAI/Anthropic-style API under /v1/: never cached; the API layer will answer it here later. */
  | { kind: 'api' }
  /** A page load inside the app's scope: answered with the cached start page (the app routes by hash). */
  | { kind: 'navigation'; cacheKey: string }
  /** A file of the precached shell. Hashed files never change, so only unhashed ones are re-checked. */
  | { kind: 'shell'; cacheKey: string }
  /** Everything else (other origins, model downloads, non-GET): straight to the network, not cached. */
  | { kind: 'network' };

export interface RouteRequest {
  url: string;
  method: string;
  mode: string;
}

export class ShellRoutes {
  readonly #scope: URL;
  readonly #startPage: string;
  readonly #shell: Set<string>;

  /** `files` are relative to the scope, as in the build's precache manifest ('./' = start page). */
  constructor(scope: string, files: readonly string[]) {
    this.#scope = new URL(scope);
    this.#startPage = this.#scope.href;
    this.#shell = new Set(files.map((file) => this.resolve(file)));
  }

  /** Absolute URL of a manifest entry: also the cache key it is stored under. */
  resolve(file: string): string {
    return new URL(file, this.#scope).href;
  }

  route(request: RouteRequest): Route {
    const url = new URL(request.url);
    if (url.origin !== this.#scope.origin || !url.pathname.startsWith(this.#scope.pathname)) return { kind: 'network' };
    const inScope = url.pathname.slice(this.#scope.pathname.length);
    if (inScope === 'v1' || inScope.startsWith('v1/')) return { kind: 'api' };
    if (request.method !== 'GET') return { kind: 'network' };
    if (request.mode === 'navigate') return { kind: 'navigation', cacheKey: this.#startPage };
    const key = url.origin + url.pathname; // query strings (cache busters) do not make a new file
    if (this.#shell.has(key)) return { kind: 'shell', cacheKey: key };
    return { kind: 'network' };
  }
}
