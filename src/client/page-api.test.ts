// PageProviders with a fetch-shaped entry (the mesh) beside a ModelProvider one (the tab's engine).
import { describe, expect, it } from 'vitest';
import { ApiError } from '../protocol/api-error.ts';
import type { ModelProvider } from '../provider/provider.ts';
import { PageProviders, PROVIDER_PRIORITY, type FetchProvider } from './page-api.ts';

const APP = 'http://127.0.0.1:8080';
const chat = (model: string, init: RequestInit = {}, path = '/v1/chat/completions') =>
  new Request(`${APP}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, max_tokens: 8, messages: [{ role: 'user', content: 'Hi' }] }),
    ...init,
  });

/** A host that answers raw HTTP and records what reached it. */
function head(
  ids: string[],
  answer: (r: Request) => Promise<Response> = async () => new Response('data: from-head\n\n', { headers: { 'content-type': 'text/event-stream' } }),
) {
  const seen: { method: string; path: string; body: string; version: string | null }[] = [];
  const fetcher: FetchProvider = {
    listModels: async () => ids.map((id) => ({ id, ownedBy: 'companion', contextLength: 2048, created: 7 })),
    fetch: async (r) => {
      seen.push({ method: r.method, path: new URL(r.url).pathname, body: await r.clone().text(), version: r.headers.get('anthropic-version') });
      return answer(r);
    },
  };
  return { fetcher, seen };
}

/** The tab's engine: lists `ids`; asked to run one, it says so in a 503 (the route picks; it need not generate). */
function tab(ids: string[]) {
  const asked: string[] = [];
  const refuse = (model: string) => {
    asked.push(model);
    return Promise.reject(new ApiError('unavailable', `the tab was asked for ${model}`));
  };
  const provider: ModelProvider = {
    listModels: () => ids.map((id) => ({ id, ownedBy: 'tab', contextLength: 64 })),
    modelText: refuse,
    generate: (r) => refuse(r.model),
  };
  return { provider, asked };
}

describe('PageProviders with a fetch-shaped provider', () => {
  it('lists its models in served() and in GET /v1/models, above the tab for a model both serve', async () => {
    const providers = new PageProviders();
    const mesh = head(['m', 'shared']);
    providers.register('tab', tab(['t', 'shared']).provider, PROVIDER_PRIORITY.tab);
    providers.registerFetch('mesh', mesh.fetcher, PROVIDER_PRIORITY.mesh);
    expect(await providers.served()).toEqual([
      { id: 'm', priority: 200, from: 'mesh' },
      { id: 'shared', priority: 200, from: 'mesh' },
      { id: 't', priority: 50, from: 'tab' },
    ]);
    const list = await (await providers.serve(new Request(`${APP}/v1/models`))).json();
    expect(list.data).toEqual([
      { id: 'm', object: 'model', created: 7, owned_by: 'companion', context_length: 2048 },
      { id: 'shared', object: 'model', created: 7, owned_by: 'companion', context_length: 2048 },
      { id: 't', object: 'model', created: 0, owned_by: 'tab', context_length: 64 },
    ]);
    expect(mesh.seen).toEqual([]); // the list comes from what it listed, not from another round trip
  });

  it('forwards a request for its model whole (body, headers, path) and returns its answer as it is', async () => {
    const providers = new PageProviders();
    const mesh = head(['shared']);
    const t = tab(['shared']);
    providers.register('tab', t.provider, PROVIDER_PRIORITY.tab);
    providers.registerFetch('mesh', mesh.fetcher, PROVIDER_PRIORITY.mesh);
    const request = chat('shared', { headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' } }, '/v1/messages');
    const body = await request.clone().text();
    const res = await providers.serve(request);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(await res.text()).toBe('data: from-head\n\n');
    expect(mesh.seen).toEqual([{ method: 'POST', path: '/v1/messages', body, version: '2023-06-01' }]);
    expect(t.asked).toEqual([]);
    const one = await providers.serve(new Request(`${APP}/v1/models/shared`));
    expect(await one.text()).toBe('data: from-head\n\n');
    expect(mesh.seen.map((s) => `${s.method} ${s.path}`)).toEqual(['POST /v1/messages', 'GET /v1/models/shared']);
  });

  it("leaves the tab's models and unknown ones to the API, and gives the tab its model back once withdrawn", async () => {
    const providers = new PageProviders();
    const mesh = head(['shared']);
    const t = tab(['t', 'shared']);
    providers.register('tab', t.provider, PROVIDER_PRIORITY.tab);
    const withdraw = providers.registerFetch('mesh', mesh.fetcher, PROVIDER_PRIORITY.mesh);
    const own = await providers.serve(chat('t'));
    expect(own.status).toBe(503);
    expect((await own.json()).error.message).toBe('the tab was asked for t');
    const unknown = await providers.serve(chat('nope'));
    expect(unknown.status).toBe(404);
    expect(mesh.seen).toEqual([]);

    let changes = 0;
    providers.onChange(() => {
      changes++;
    });
    withdraw();
    withdraw(); // a second call changes nothing
    expect(changes).toBe(1);
    expect(await providers.served()).toEqual([
      { id: 't', priority: 50, from: 'tab' },
      { id: 'shared', priority: 50, from: 'tab' },
    ]);
    expect((await (await providers.serve(chat('shared'))).json()).error.message).toBe('the tab was asked for shared');
    expect(mesh.seen).toEqual([]);
    expect(t.asked).toEqual(['t', 'shared']);
  });

  it("answers a host out of reach with a 503 in the client's protocol, and lets an abort through", async () => {
    const providers = new PageProviders();
    providers.registerFetch(
      'mesh',
      head(['m'], async (r) => {
        if (r.signal.aborted) throw r.signal.reason;
        throw new Error("no link to the mesh's head right now");
      }).fetcher,
      PROVIDER_PRIORITY.mesh,
    );
    const down = await providers.serve(chat('m', { headers: { 'content-type': 'application/json' } }, '/v1/messages'));
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('5');
    expect(await down.json()).toEqual({
      type: 'error',
      error: { type: 'overloaded_error', message: "the mesh cannot answer now: no link to the mesh's head right now" },
    });
    const controller = new AbortController();
    controller.abort(new DOMException('the client went away', 'AbortError'));
    await expect(providers.serve(chat('m', { signal: controller.signal }))).rejects.toMatchObject({ name: 'AbortError' });
  });
});
