// The providers this page runs models on, by priority: the mesh (a tab in a mesh sends /v1 to its
// head: mesh-page-provider.ts) and the tab's own engine (tab-engine.ts). The page's /v1 answers from
// the provider of highest priority that lists the model; the companion, reached over HTTP by
// api-route.ts, sits between them at COMPANION_PRIORITY. Other parts plug in with registerPageProvider
// (a ModelProvider, run here by handleApiRequest) or registerFetchProvider (answers raw HTTP).
import { MeshError } from '../protocol/errors.ts';
import { createApiContext, errorResponse, handleApiRequest, speaks, type ApiContext } from '../api/index.ts';
import { ApiError } from '../protocol/api-error.ts';
import type { ServedModel } from '../protocol/service-worker-messages.ts';
import type { GenerateRequest, ModelDescriptor, ModelProvider, PromptLogprobsRequest } from '../provider/provider.ts';
import { requestedModel } from './request-model.ts';

/** Higher answers first. A provider above the companion answers even when the companion is up. */
export const PROVIDER_PRIORITY = { mesh: 200, companion: 100, tab: 50 } as const;
export const COMPANION_PRIORITY = PROVIDER_PRIORITY.companion;
/** The name the mesh registers under: the page's own route asks the mesh directly instead (api-route.ts). */
export const MESH_PROVIDER = 'mesh';

/**
 * A host of models that already speaks the HTTP API (the mesh's head, over libp2p): requests for its
 * models pass to it whole, and its answers, errors and streams come back as they are.
 */
export interface FetchProvider {
  listModels(): Promise<ModelDescriptor[]>;
  /** Rejects when the host cannot be reached; honours request.signal. */
  fetch(request: Request): Promise<Response>;
}

/** What answers /v1 on this side of the companion: the page's providers, or (in the service worker) a page. */
export interface LocalApi {
  /** The models served here, each once, with the priority and name of its provider. */
  served(): Promise<ServedModel[]>;
  /** Answers a /v1 request (handleApiRequest over the providers). */
  serve(request: Request): Promise<Response>;
}

type Entry = { name: string; priority: number } & ({ provider: ModelProvider; fetcher?: undefined } | { fetcher: FetchProvider; provider?: undefined });

export class PageProviders implements LocalApi {
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Set<() => void | Promise<void>>();
  #ctx: ApiContext | undefined;
  #published: Promise<unknown> = Promise.resolve();

  /**
   * Serves `provider`'s models from this page under `name` ("tab", "mesh": shown as where a model
   * runs). Registering a name again replaces it. Returns the function that withdraws it.
   */
  register(name: string, provider: ModelProvider, priority: number): () => void {
    return this.#add({ name, provider, priority });
  }

  /** As register, for a host that answers raw HTTP: serve() forwards the requests for its models to it. */
  registerFetch(name: string, fetcher: FetchProvider, priority: number): () => void {
    return this.#add({ name, fetcher, priority });
  }

  #add(entry: Entry): () => void {
    const { name } = entry;
    this.#entries.set(name, entry);
    this.changed();
    return () => {
      if (this.#entries.get(name) !== entry) return;
      this.#entries.delete(name);
      this.changed();
    };
  }

  /** Tells listeners (the service-worker bridge, views) that a provider's model list changed. */
  changed(): void {
    this.#published = Promise.allSettled([...this.#listeners].map((listener) => listener()));
  }

  /** Resolves when every listener has taken in the last change (the service worker knows the new list). */
  async published(): Promise<void> {
    await this.#published;
  }

  /** A listener may return a promise: published() waits for it. */
  onChange(listener: () => void | Promise<void>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get size(): number {
    return this.#entries.size;
  }

  async served(): Promise<ServedModel[]> {
    return (await this.#listed()).map(({ d, e }) => ({ id: d.id, priority: e.priority, from: e.name }));
  }

  async serve(request: Request): Promise<Response> {
    if (![...this.#entries.values()].some((e) => e.fetcher)) return this.#handle(request);
    // Read once: the model it names picks who answers, and that one reads it again.
    const body = request.method === 'GET' || request.method === 'HEAD' ? null : await request.arrayBuffer();
    const again = new Request(request.url, { method: request.method, headers: request.headers, body, signal: request.signal });
    const model = requestedModel(new URL(request.url), request.method, body);
    const owner = model === undefined ? undefined : (await this.#listed()).find(({ d }) => d.id === model)?.e;
    // Lists and requests for the providers' models: handleApiRequest, over every entry's list.
    return owner?.fetcher ? this.#forward(owner.name, owner.fetcher, again) : this.#handle(again);
  }

  #handle(request: Request): Promise<Response> {
    this.#ctx ??= createApiContext({
      provider: this.provider(),
      noModelHint: 'this tab runs no model: open Models and choose "Use in this tab", or start the companion with npm start, then retry',
    });
    return handleApiRequest(request, this.#ctx, { clientKey: 'page' });
  }

  /** The host's answer as it is; a host out of reach is a 503 in the client's protocol, an abort stays an abort. */
  async #forward(name: string, fetcher: FetchProvider, request: Request): Promise<Response> {
    try {
      return await fetcher.fetch(request);
    } catch (error) {
      if (request.signal.aborted) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      return errorResponse(
        new ApiError('unavailable', `the ${name} cannot answer now: ${reason}`, {
          code: error instanceof MeshError ? error.code : 'no_model_available',
          retryAfter: 5,
          cause: error,
        }),
        speaks(request),
      );
    }
  }

  /**
   * All registered providers as one: each model answered by the highest-priority provider listing it.
   * It lists the fetch-shaped hosts' models too, but cannot run them: serve() sends those on whole.
   */
  provider(): ModelProvider {
    const owner = async (model: string): Promise<ModelProvider> => {
      const found = (await this.#listed()).find(({ d }) => d.id === model);
      if (!found)
        throw new ApiError('not_found', `the model "${model}" is not served in this tab; GET /v1/models lists what is`, {
          param: 'model',
          code: 'model_not_found',
        });
      if (!found.e.provider)
        throw new ApiError('internal', `the model "${model}" is served by the ${found.e.name}, which answers whole HTTP requests: send it through serve()`);
      return found.e.provider;
    };
    return {
      listModels: async () => (await this.#listed()).map(({ d }) => d),
      modelText: async (model) => (await owner(model)).modelText(model),
      generate: async (request: GenerateRequest) => (await owner(request.model)).generate(request),
      supportsLogprobs: async (model) => {
        const p = await owner(model).catch(() => undefined);
        return (await p?.supportsLogprobs?.(model)) ?? false;
      },
      promptLogprobs: async (request: PromptLogprobsRequest) => {
        const p = await owner(request.model);
        if (!p.promptLogprobs)
          throw new ApiError('invalid_request', `the provider of "${request.model}" cannot score prompts`, { code: 'logprobs_not_supported' });
        return p.promptLogprobs(request);
      },
    };
  }

  /** Every model once, from its highest-priority provider; a provider that fails to list is skipped. */
  async #listed(): Promise<{ d: ModelDescriptor; e: Entry }[]> {
    const entries = [...this.#entries.values()].sort((a, b) => b.priority - a.priority);
    const lists = await Promise.all(
      entries.map(async (e) => ({ e, models: await Promise.resolve((e.provider ?? e.fetcher).listModels()).catch(() => [] as ModelDescriptor[]) })),
    );
    const seen = new Set<string>();
    const out: { d: ModelDescriptor; e: Entry }[] = [];
    for (const { e, models } of lists) {
      for (const d of models) {
        if (seen.has(d.id)) continue;
        seen.add(d.id);
        out.push({ d, e });
      }
    }
    return out;
  }
}

let pageProviders: PageProviders | undefined;

/** This page's providers (one registry per page: the route, the bridge and the views share it). */
export function thisPageProviders(): PageProviders {
  return (pageProviders ??= new PageProviders());
}

/**
 * The hook for other hosts of models in a page: `registerPageProvider('mesh', provider,
 * PROVIDER_PRIORITY.mesh)` makes the page's /v1 (and, through the service worker, every page of the
 * origin) answer its models ahead of the companion. Returns the function that withdraws it; call
 * `thisPageProviders().changed()` when its model list changes.
 */
export function registerPageProvider(name: string, provider: ModelProvider, priority: number): () => void {
  return thisPageProviders().register(name, provider, priority);
}

/** registerPageProvider for a host that answers raw HTTP (the mesh): see PageProviders.registerFetch. */
export function registerFetchProvider(name: string, fetcher: FetchProvider, priority: number): () => void {
  return thisPageProviders().registerFetch(name, fetcher, priority);
}
