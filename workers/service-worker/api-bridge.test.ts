// The /v1 bridge end to end in Node: the service worker's ApiBridge hands a request to a "page"
// (the page side's answer() over real MessageChannels) whose providers answer it with
// handleApiRequest; the stream arrives piece by piece, a cancelled body aborts the page's
// generation, and a page that closed or never acknowledges gives an error in the protocol's shape.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { errorResponse, speaks } from '../../src/api/index.ts';
import { loadModelText, ScriptedProvider, TEST_MODEL } from '../../src/api/testing/scripted-provider.ts';
import { answer } from '../../src/client/api-bridge.ts';
import { PageProviders, PROVIDER_PRIORITY } from '../../src/client/page-api.ts';
import { isApiRequestMessage, SW_PROTOCOL_VERSION } from '../../src/protocol/service-worker-messages.ts';
import { ApiBridge, type BridgeClient } from './api-bridge.ts';

let provider: ScriptedProvider;
let providers: PageProviders;
beforeAll(async () => {
  provider = new ScriptedProvider({ text: await loadModelText(await ensureModel(TEST_MODEL)), reply: 'one two three four five six seven eight', delayMs: 15 });
  providers = new PageProviders();
  providers.register('tab', provider, PROVIDER_PRIORITY.tab);
});
afterAll(() => undefined);

/** A window client whose messages reach the page side's answer(), as a browser would deliver them. */
function page(id: string, opts: { silent?: boolean } = {}): BridgeClient & { queries: number } {
  const client = {
    id,
    queries: 0,
    postMessage(message: unknown, transfer?: Transferable[]) {
      if ((message as { type?: string }).type === 'api-server-query') client.queries++;
      if (opts.silent || !isApiRequestMessage(message)) return;
      void answer(providers, message, transfer![0] as MessagePort);
    },
  };
  return client;
}

function bridgeWith(pages: BridgeClient[], acceptMs = 3000): ApiBridge {
  const byId = new Map(pages.map((p) => [p.id, p]));
  return new ApiBridge({
    clients: { get: async (id) => byId.get(id), matchAll: async () => pages },
    acceptMs,
    askMs: 20,
    errorResponse: (error, request) => errorResponse(error, speaks(request)),
  });
}

const chat = (stream: boolean, signal?: AbortSignal) =>
  new Request('http://app.test/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    signal,
    body: JSON.stringify({ model: TEST_MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 32, stream }),
  });

describe('service worker ⇄ page /v1 bridge', () => {
  it("asks pages once after a restart, then streams a page's answer through piece by piece", async () => {
    const p = page('a');
    const bridge = bridgeWith([p]);
    expect(await bridge.served()).toEqual([]);
    expect(p.queries).toBe(1);
    bridge.onServer('a', { v: SW_PROTOCOL_VERSION, type: 'api-server', models: await providers.served() });
    expect(await bridge.served()).toEqual([{ id: TEST_MODEL, priority: PROVIDER_PRIORITY.tab, from: 'tab' }]);
    expect(p.queries).toBe(1);

    const direct = await (await providers.serve(chat(false))).json();
    const res = await bridge.serve(chat(true));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '',
      reads = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      reads++;
      text += new TextDecoder().decode(value);
    }
    expect(reads).toBeGreaterThan(3);
    const content = text
      .split('\n\n')
      .filter((f) => f.startsWith('data: {'))
      .map((f) => JSON.parse(f.slice(6)).choices[0]?.delta?.content ?? '')
      .join('');
    expect(content).toBe(direct.choices[0].message.content);
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it("stops the page's generation when the client goes away", async () => {
    const bridge = bridgeWith([page('a')]);
    bridge.onServer('a', { v: SW_PROTOCOL_VERSION, type: 'api-server', models: await providers.served() });
    const controller = new AbortController();
    const before = provider.calls.length;
    const res = await bridge.serve(chat(true, controller.signal));
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await reader.cancel().catch(() => {});
    const call = provider.calls[before];
    await call.finished;
    expect(call.stoppedEarly).toBe(true);
    expect(call.yielded).toBeLessThan(8);
  });

  it("answers in the protocol's shape when the serving page closed or does not acknowledge", async () => {
    const gone = bridgeWith([]);
    gone.onServer('closed', { v: SW_PROTOCOL_VERSION, type: 'api-server', models: [{ id: TEST_MODEL, priority: 50, from: 'tab' }] });
    const res = await gone.serve(chat(false));
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 'no_model_available', message: expect.stringContaining('has closed or stopped answering') } });
    expect(await gone.served()).toEqual([]);

    // A model no page ever served is said as such, not as a tab that closed.
    const other = bridgeWith([]);
    other.onServer('a', { v: SW_PROTOCOL_VERSION, type: 'api-server', models: [{ id: 'another-model', priority: 50, from: 'tab' }] });
    const unserved = await other.serve(chat(false));
    expect(unserved.status).toBe(503);
    expect(await unserved.json()).toMatchObject({
      error: { code: 'no_model_available', message: expect.stringMatching(/no tab of this app serves "[^"]+" and no companion answered/) },
    });

    const frozen = bridgeWith([page('f', { silent: true })], 50);
    frozen.onServer('f', { v: SW_PROTOCOL_VERSION, type: 'api-server', models: [{ id: TEST_MODEL, priority: 50, from: 'tab' }] });
    const anthropic = await frozen.serve(
      new Request('http://app.test/v1/messages', {
        method: 'POST',
        body: JSON.stringify({ model: TEST_MODEL, max_tokens: 4, messages: [{ role: 'user', content: 'Hi' }] }),
      }),
    );
    expect(anthropic.status).toBe(503);
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
  });

  it('sends a request to the most recent page serving its model', async () => {
    const hits: string[] = [];
    const spy = (id: string): BridgeClient => ({
      id,
      postMessage: (m, t) => {
        if (isApiRequestMessage(m)) {
          hits.push(id);
          void answer(providers, m, t![0] as MessagePort);
        }
      },
    });
    const bridge = bridgeWith([spy('old'), spy('new'), spy('other')]);
    const mine = await providers.served();
    bridge.onServer('old', { v: SW_PROTOCOL_VERSION, type: 'api-server', models: mine });
    bridge.onServer('new', { v: SW_PROTOCOL_VERSION, type: 'api-server', models: mine });
    bridge.onServer('other', { v: SW_PROTOCOL_VERSION, type: 'api-server', models: [{ id: 'something-else', priority: 50, from: 'tab' }] });
    expect((await bridge.serve(chat(false))).status).toBe(200);
    bridge.onServer('new', { v: SW_PROTOCOL_VERSION, type: 'api-server', models: [] }); // withdrawn
    expect((await bridge.serve(chat(false))).status).toBe(200);
    expect(hits).toEqual(['new', 'old']);
  });
});
