import { describe, expect, it } from 'vitest';
import { createApiRoute } from './api-route.ts';
import { MeshError } from '../protocol/errors.ts';
import { PageProviders, PROVIDER_PRIORITY } from './page-api.ts';
import type { ModelProvider } from '../provider/provider.ts';
import { DEFAULT_COMPANION_API, normaliseCompanionApi, publishedCompanionApi, companionApiResolver } from './companion-api.ts';

const APP = 'http://127.0.0.1:8080';
const chatBody = JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'Hi' }], stream: true });
const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  new Request(`${APP}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

function refusing(): { fetch: typeof fetch; seen: Request[] } {
  const seen: Request[] = [];
  return {
    seen,
    fetch: async (input, init) => {
      seen.push(new Request(input, init));
      throw new TypeError('fetch failed');
    },
  };
}

describe('createApiRoute', () => {
  it('forwards to the companion with the body, headers and token, and streams its answer back', async () => {
    const seen: { url: string; body: string; auth: string | null; version: string | null }[] = [];
    const route = createApiRoute({
      via: 'service-worker',
      companion: async () => ({ url: 'http://127.0.0.1:9999', token: 'tok-123456' }),
      fetch: async (input, init) => {
        const r = new Request(input, init);
        seen.push({ url: r.url, body: await r.text(), auth: r.headers.get('authorization'), version: r.headers.get('anthropic-version') });
        const stream = new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode('data: 1\n\n'));
            c.enqueue(new TextEncoder().encode('data: [DONE]\n\n'));
            c.close();
          },
        });
        return new Response(stream, { status: 200, headers: { 'content-type': 'text/event-stream', 'x-mesh-served-by': 'companion;layers=0-2' } });
      },
    });
    const res = await route(post('/v1/messages?beta=true', chatBody, { 'anthropic-version': '2023-06-01' }));
    expect(seen).toEqual([{ url: 'http://127.0.0.1:9999/v1/messages?beta=true', body: chatBody, auth: 'Bearer tok-123456', version: '2023-06-01' }]);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mesh-via')).toBe('service-worker; companion');
    expect(res.headers.get('x-mesh-served-by')).toBe('companion;layers=0-2');
    expect(await res.text()).toBe('data: 1\n\ndata: [DONE]\n\n');
  });

  it('answers 503 in the OpenAI or Anthropic shape when the companion is unreachable', async () => {
    const { fetch, seen } = refusing();
    const route = createApiRoute({ via: 'page', companion: async () => ({ url: DEFAULT_COMPANION_API }), fetch });
    const openai = await route(post('/v1/chat/completions', chatBody));
    expect(seen).toHaveLength(1);
    expect(openai.status).toBe(503);
    expect(openai.headers.get('retry-after')).toBe('5');
    expect(openai.headers.get('x-mesh-via')).toBe('page; local');
    expect(await openai.json()).toEqual({
      error: {
        message: expect.stringContaining(`no companion API answered at ${DEFAULT_COMPANION_API}`),
        type: 'server_error',
        param: null,
        code: 'no_model_available',
      },
    });
    const anthropic = await route(post('/v1/messages', JSON.stringify({ model: 'tiny', max_tokens: 5, messages: [{ role: 'user', content: 'Hi' }] })));
    expect(anthropic.status).toBe(503);
    expect(await anthropic.json()).toMatchObject({
      type: 'error',
      error: { type: 'overloaded_error', message: expect.stringContaining('no peer can serve "tiny"') },
    });
  });

  it('asks the mesh first, with the body intact; passes a mesh that is away or unreachable over for the companion', async () => {
    const { fetch, seen } = refusing();
    const asked: { body: string; version: string | null }[] = [];
    let mesh: ((request: Request) => Promise<Response> | undefined) | undefined = (request) =>
      (async () => {
        asked.push({ body: await request.text(), version: request.headers.get('anthropic-version') });
        return new Response('{"from":"head"}', { status: 404, headers: { 'content-type': 'application/json' } });
      })();
    const route = createApiRoute({ via: 'page', companion: async () => ({ url: DEFAULT_COMPANION_API }), fetch, mesh: (request) => mesh?.(request) });
    const viaMesh = await route(post('/v1/messages', chatBody, { 'anthropic-version': '2023-06-01' }));
    expect(asked).toEqual([{ body: chatBody, version: '2023-06-01' }]);
    expect(seen).toHaveLength(0);
    expect(viaMesh.status).toBe(404); // the head's answer, errors included, is the answer
    expect(viaMesh.headers.get('x-mesh-via')).toBe('page; mesh');
    expect(await viaMesh.json()).toEqual({ from: 'head' });

    mesh = () => Promise.reject(new Error('no link to the head'));
    const unreachable = await route(post('/v1/chat/completions', chatBody));
    expect(seen.map((r) => r.url)).toEqual([`${DEFAULT_COMPANION_API}/v1/chat/completions`]);
    expect(await seen[0].text()).toBe(chatBody);
    expect(unreachable.headers.get('x-mesh-via')).toBe('page; local');

    mesh = undefined;
    await route(post('/v1/chat/completions', chatBody));
    expect(seen).toHaveLength(2);
  });

  it('still validates locally: a bad request is a 400, the model list is empty', async () => {
    const route = createApiRoute({ via: 'page', companion: async () => ({ url: DEFAULT_COMPANION_API }), fetch: refusing().fetch });
    const bad = await route(post('/v1/chat/completions', '{"model":'));
    expect(bad.status).toBe(400);
    const models = await route(new Request(`${APP}/v1/models`));
    expect(await models.json()).toEqual({ object: 'list', data: [] });
  });

  it('passes an abort through instead of answering', async () => {
    const controller = new AbortController();
    const route = createApiRoute({
      via: 'page',
      companion: async () => ({ url: DEFAULT_COMPANION_API }),
      fetch: async () => {
        controller.abort();
        throw new DOMException('aborted', 'AbortError');
      },
    });
    const request = new Request(`${APP}/v1/chat/completions`, { method: 'POST', body: chatBody, signal: controller.signal });
    await expect(route(request)).rejects.toThrow(/abort/i);
  });
});

/** A provider that lists `ids` and whose serving we only count (the route picks; it need not generate). */
function listing(ids: string[], ownedBy: string): ModelProvider {
  return {
    listModels: () => ids.map((id) => ({ id, ownedBy, contextLength: 64 })),
    modelText: () => Promise.reject(new Error('not used')),
    generate: () => Promise.reject(new Error('not used')),
  };
}

describe('createApiRoute with page providers', () => {
  const companionList = (ids: string[]) => Response.json({ object: 'list', data: ids.map((id) => ({ id, object: 'model', owned_by: 'companion' })) });
  function setup(companion: (r: Request) => Response | Promise<Response>) {
    const providers = new PageProviders();
    const served: string[] = [];
    const local = {
      served: () => providers.served(),
      serve: async (r: Request) => {
        served.push(new URL(r.url).pathname);
        return providers.serve(r);
      },
    };
    const calls: string[] = [];
    const route = createApiRoute({
      via: 'page',
      local,
      companion: async () => ({ url: 'http://127.0.0.1:9999' }),
      fetch: async (input, init) => {
        const r = new Request(input, init);
        calls.push(new URL(r.url).pathname);
        return companion(r);
      },
    });
    return { providers, route, calls, served };
  }

  it('asks a provider ranked above the companion first, without calling the companion', async () => {
    const t = setup(() => companionList(['c']));
    t.providers.register('mesh', listing(['m'], 'mesh'), PROVIDER_PRIORITY.mesh);
    const res = await t.route(post('/v1/chat/completions', JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'Hi' }] })));
    expect(res.headers.get('x-mesh-via')).toBe('page; mesh');
    expect(t.calls).toEqual([]);
    expect(t.served).toEqual(['/v1/chat/completions']);
  });

  it('prefers the companion to the tab, and falls back to the tab when the companion does not serve the model', async () => {
    const t = setup((r) =>
      r.method === 'GET' ? companionList(['c']) : Response.json({ error: { message: 'no such model', code: 'model_not_found' } }, { status: 404 }),
    );
    t.providers.register('tab', listing(['t'], 'tab'), PROVIDER_PRIORITY.tab);
    const c = await t.route(post('/v1/chat/completions', JSON.stringify({ model: 'c', messages: [] })));
    expect(c.headers.get('x-mesh-via')).toBe('page; companion');
    expect(t.served).toEqual([]);
    const tab = await t.route(post('/v1/chat/completions', JSON.stringify({ model: 't', messages: [{ role: 'user', content: 'Hi' }] })));
    expect(tab.headers.get('x-mesh-via')).toBe('page; tab');
    expect(t.calls).toEqual(['/v1/chat/completions', '/v1/chat/completions']);
    expect(t.served).toEqual(['/v1/chat/completions']);
  });

  it('merges the model lists in priority order, each model saying where it runs', async () => {
    const t = setup(() => companionList(['c', 'shared']));
    t.providers.register('mesh', listing(['m', 'shared'], 'mesh'), PROVIDER_PRIORITY.mesh);
    t.providers.register('tab', listing(['t', 'shared', 'c'], 'tab'), PROVIDER_PRIORITY.tab);
    const list = await (await t.route(new Request(`${APP}/v1/models`))).json();
    expect(list.data.map((m: { id: string; served_from: string }) => [m.id, m.served_from])).toEqual([
      ['m', 'mesh'],
      ['shared', 'mesh'],
      ['c', 'companion'],
      ['t', 'tab'],
    ]);
  });

  it("on the page in the mesh, passes a head out of reach over for the companion without asking the mesh's page entry", async () => {
    const providers = new PageProviders();
    let asked = 0;
    providers.registerFetch(
      'mesh',
      {
        listModels: async () => [{ id: 'm', ownedBy: 'mesh', contextLength: 64 }],
        fetch: async () => {
          asked++;
          throw new Error('no link');
        },
      },
      PROVIDER_PRIORITY.mesh,
    );
    const calls: string[] = [];
    const route = createApiRoute({
      via: 'page',
      local: providers,
      companion: async () => ({ url: 'http://127.0.0.1:9999' }),
      mesh: () => Promise.reject(new Error('no link to the head')),
      fetch: async (input) => {
        calls.push(new URL(String(input)).pathname);
        return Response.json({ id: 'from-companion' });
      },
    });
    const res = await route(post('/v1/chat/completions', JSON.stringify({ model: 'm', messages: [] })));
    expect(res.headers.get('x-mesh-via')).toBe('page; companion');
    expect(calls).toEqual(['/v1/chat/completions']);
    expect(asked).toBe(0);
  });

  it("says the mesh's head left, in the caller's protocol, when nobody else answers", async () => {
    const route = createApiRoute({
      via: 'page',
      companion: async () => ({ url: 'http://127.0.0.1:9999' }),
      mesh: () => Promise.reject(new MeshError('mesh_head_left', "the mesh's head left (the tab that made this mesh closed)")),
      fetch: refusing().fetch,
    });
    const openai = await route(post('/v1/chat/completions', JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'Hi' }] })));
    expect(openai.status).toBe(503);
    expect((await openai.json()).error).toMatchObject({ code: 'mesh_head_left', message: expect.stringMatching(/head left/) });
    const anthropic = await route(post('/v1/messages', JSON.stringify({ model: 'm', max_tokens: 8, messages: [] }), { 'anthropic-version': '2023-06-01' }));
    expect(anthropic.status).toBe(503);
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { message: expect.stringMatching(/head left/) } });
  });

  it('answers from the tab alone when the companion is unreachable, and 503 once nothing serves', async () => {
    const t = setup(() => {
      throw new TypeError('fetch failed');
    });
    const withdraw = t.providers.register('tab', listing(['t'], 'tab'), PROVIDER_PRIORITY.tab);
    const list = await (await t.route(new Request(`${APP}/v1/models`))).json();
    expect(list.data).toMatchObject([{ id: 't', owned_by: 'tab', served_from: 'tab' }]);
    withdraw();
    const none = await t.route(post('/v1/chat/completions', JSON.stringify({ model: 't', messages: [{ role: 'user', content: 'Hi' }] })));
    expect(none.status).toBe(503);
    expect(none.headers.get('x-mesh-via')).toBe('page; local');
  });
});

describe('companion API address', () => {
  it('normalises a setting and refuses what is not an http(s) URL', () => {
    expect(normaliseCompanionApi({ url: 'http://127.0.0.1:9337/' })).toEqual({ url: 'http://127.0.0.1:9337' });
    expect(normaliseCompanionApi({ url: 'https://box.lan/mesh/v1', token: 't' })).toEqual({ url: 'https://box.lan/mesh', token: 't' });
    expect(() => normaliseCompanionApi({ url: 'nope' })).toThrow(/not a URL/);
    expect(() => normaliseCompanionApi({ url: 'ftp://x' })).toThrow(/http\(s\)/);
  });

  it('reads what the serving companion publishes, and falls back to the default port', async () => {
    const published: typeof fetch = async () => Response.json({ api: 'http://127.0.0.1:4321' });
    expect(await publishedCompanionApi(APP, published)).toEqual({ url: 'http://127.0.0.1:4321' });
    const html: typeof fetch = async () => new Response('<!doctype html>', { headers: { 'content-type': 'text/html' } });
    expect(await publishedCompanionApi(APP, html)).toBeNull();
    expect(await companionApiResolver(APP, { fetch: refusing().fetch })()).toEqual({ url: DEFAULT_COMPANION_API });
  });
});
