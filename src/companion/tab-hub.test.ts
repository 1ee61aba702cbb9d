// Tabs attached to the companion over /attach, with a Node engine standing in for the page's (the
// browser run is playwright/api-tab.spec.ts): listed in /v1/models, served to the official SDKs with
// the engine's greedy text, aborts reach the tab, a tab leaving mid-request gives a clean error, and
// bad origins and frames are refused without hurting the companion.
import { attachProtocols, TAB_ATTACH_SUBPROTOCOL } from '../protocol/tab-attach.ts';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTabServe, type TabServe, type TabSocket } from '../client/tab-serve.ts';
import { DEFAULT_TAB_WINDOW, encodeTokenizerMetadata, TAB_ATTACH_VERSION } from '../protocol/tab-attach.ts';
import { COMPANION_TEST_MODEL, greedyChat, startTestCompanion, type TestCompanion } from './testing/companion.ts';

const TAB_MODEL = 'tab-tiny';
let t: TestCompanion;
let openai: OpenAI;
let anthropic: Anthropic;
let tab: TabServe;

function attach(name: string, model = TAB_MODEL): Promise<TabServe> {
  return startTabServe({
    api: t.companion.urls.api,
    name,
    models: [{ id: model, source: t.served.model.engine }],
    connect: (url) => new WebSocket(url, { origin: t.companion.urls.app }) as unknown as TabSocket,
  });
}

/** A raw socket to /attach, collecting the frames it receives. */
async function rawSocket(origin: string): Promise<{ ws: WebSocket; frames: unknown[]; closed: Promise<number> }> {
  const ws = new WebSocket(`${t.companion.urls.api.replace('http', 'ws')}/attach`, { origin });
  const frames: unknown[] = [];
  ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, frames, closed };
}

const until = async (ok: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !ok(); await new Promise((r) => setTimeout(r, 10))) if (Date.now() > end) throw new Error('timed out');
};

beforeAll(async () => {
  t = await startTestCompanion();
  openai = new OpenAI({ baseURL: `${t.companion.urls.api}/v1`, apiKey: 'x', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: t.companion.urls.api, apiKey: 'x', maxRetries: 0 });
  tab = await attach('node');
});
afterAll(async () => {
  await tab?.stop().catch(() => {});
  await t?.stop();
});

const chat = [{ role: 'user' as const, content: 'Describe the sea.' }];

describe('tabs attached to the companion', () => {
  it("lists the tab's model beside the companion's own", async () => {
    expect(tab.peer).toBe('tab-node');
    const ids = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    expect(ids.sort()).toEqual([COMPANION_TEST_MODEL, TAB_MODEL].sort());
    expect(t.companion.tabs.attached).toEqual([{ peer: 'tab-node', models: [TAB_MODEL], busy: 0 }]);
  });

  it("serves the tab's model with the engine's greedy text and usage, naming the tab", async () => {
    const want = await greedyChat(t, chat, 12);
    const { data, response } = await openai.chat.completions.create({ model: TAB_MODEL, messages: chat, max_tokens: 12, temperature: 0 }).withResponse();
    expect(data.choices[0].message.content).toBe(want.text);
    expect(data.usage).toMatchObject({ prompt_tokens: want.promptTokens, completion_tokens: want.completionTokens });
    expect(response.headers.get('x-mesh-served-by')).toBe('tab-node;layers=0-2');
    expect(tab.requests.at(-1)).toMatchObject({ model: TAB_MODEL, state: 'done', produced: want.completionTokens });
    const streamed = await anthropic.messages.stream({ model: TAB_MODEL, max_tokens: 12, temperature: 0, messages: chat }).finalMessage();
    expect(streamed.content).toEqual([{ type: 'text', text: want.text }]);
    expect(streamed.usage).toMatchObject({ input_tokens: want.promptTokens, output_tokens: want.completionTokens });
  });

  it('stops the tab when the client aborts mid-stream', async () => {
    const stream = await openai.chat.completions.create({ model: TAB_MODEL, messages: chat, max_tokens: 400, temperature: 0, stream: true });
    let n = 0;
    for await (const _ of stream)
      if (++n === 4) {
        stream.controller.abort();
        break;
      }
    const log = tab.requests.at(-1)!;
    await until(() => log.state !== 'running');
    expect(log.state).toBe('aborted');
    // the tab never runs more than the window ahead of what was read, plus the token in flight
    expect(log.produced).toBeLessThanOrEqual(n + DEFAULT_TAB_WINDOW + 1);
    await until(() => t.companion.tabs.attached[0].busy === 0);
  });

  it('gives a clean error when the tab leaves mid-request, and forgets its model', async () => {
    const leaving = await attach('leaving', 'leaving-model');
    const stream = await openai.chat.completions.create({ model: 'leaving-model', messages: chat, max_tokens: 300, temperature: 0, stream: true });
    let failure: unknown = null;
    let n = 0;
    try {
      for await (const _ of stream) if (++n === 2) await leaving.stop();
    } catch (e) {
      failure = e;
    }
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect(String((failure as Error).message)).toMatch(/left mid-request/);
    expect(n).toBeLessThan(300);
    expect(leaving.requests).toMatchObject([{ model: 'leaving-model', state: 'aborted' }]);
    await until(() => t.companion.tabs.attached.length === 1);
    const ids = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    expect(ids).not.toContain('leaving-model');
    // non-streaming: the same error as a 503 in OpenAI's shape
    const again = await attach('leaving', 'leaving-model');
    const pending = openai.chat.completions.create({ model: 'leaving-model', messages: chat, max_tokens: 300, temperature: 0 }).catch((e: unknown) => e);
    await until(() => again.requests.length === 1);
    await again.stop();
    expect(await pending).toMatchObject({ status: 503, code: 'peer_left' });
  });

  it('moves to another tab when one stops, and forgets the model when none is left', async () => {
    const other = await attach('solo');
    await tab.stop();
    await until(() => t.companion.tabs.attached.length === 1);
    const { response } = await openai.chat.completions.create({ model: TAB_MODEL, messages: chat, max_tokens: 2 }).withResponse();
    expect(response.headers.get('x-mesh-served-by')).toBe('tab-solo;layers=0-2');
    await other.stop();
    await until(() => t.companion.tabs.attached.length === 0);
    const missing = await openai.chat.completions.create({ model: TAB_MODEL, messages: chat, max_tokens: 2 }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ status: 404, code: 'model_not_found' });
    tab = await attach('node');
  });

  it('refuses other origins, and bad frames without crashing', async () => {
    await expect(rawSocket('https://evil.example')).rejects.toThrow(/403/);
    const s = await rawSocket(t.companion.urls.app);
    s.ws.send('{not json');
    await until(() => s.frames.length === 1);
    expect(s.frames[0]).toMatchObject({ type: 'error', code: 'malformed' });
    expect(await s.closed).toBe(1008); // no hello: the socket is closed
    const v = await rawSocket(t.companion.urls.app);
    v.ws.send(JSON.stringify({ type: 'hello', version: 99, tab: 'x', models: [] }));
    expect(await v.closed).toBe(1008);
    // an attached tab sending junk gets an error frame for each and keeps its connection
    const j = await rawSocket(t.companion.urls.app);
    const engine = t.served.model.engine;
    j.ws.send(
      JSON.stringify({
        type: 'hello',
        version: TAB_ATTACH_VERSION,
        tab: 'junk',
        models: [{ id: 'junk-model', contextLength: 64, layers: 2, tokenizer: encodeTokenizerMetadata(engine.model.header.metadata) }],
      }),
    );
    await until(() => j.frames.length === 1);
    expect(j.frames[0]).toMatchObject({ type: 'welcome', peer: 'tab-junk' });
    const junk = [
      '',
      '[]',
      '{"type":"token"}',
      '{"type":"token","id":"nope","token":-1}',
      '{"type":"hello"}',
      'x'.repeat(10_000),
      '{"type":"done","id":"unknown-run"}',
    ];
    const sent = Array.from({ length: 50 }, (_, i) => junk[i % junk.length]);
    for (const frame of sent) j.ws.send(frame);
    // every frame but the well-formed "done" of a run nobody knows is answered with an error
    const errors = sent.filter((f) => !f.startsWith('{"type":"done"')).length;
    await until(() => j.frames.length === 1 + errors);
    await new Promise((r) => setTimeout(r, 50));
    expect(j.frames.length).toBe(1 + errors);
    expect(j.frames.slice(1).every((f) => (f as { type: string }).type === 'error')).toBe(true);
    expect(j.ws.readyState).toBe(WebSocket.OPEN);
    expect(t.companion.tabs.attached.map((a) => a.peer)).toContain('tab-junk');
    j.ws.close();
    const ok = await (await fetch(`${t.companion.urls.api}/health`)).json();
    expect(ok.status).toBe('ok');
    const want = await greedyChat(t, chat, 4);
    const again = await openai.chat.completions.create({ model: TAB_MODEL, messages: chat, max_tokens: 4, temperature: 0 });
    expect(again.choices[0].message.content).toBe(want.text);
  });
});

describe('attaching to a companion that requires its API token', () => {
  it('refuses a tab without its token, or with it only in the URL, and accepts it as a subprotocol', async () => {
    const locked = await startTestCompanion({ apiToken: 'sesame' });
    try {
      const url = `${locked.companion.urls.api.replace('http', 'ws')}/attach`;
      const open = (suffix: string, token?: string) =>
        new Promise<string>((resolve, reject) => {
          const ws = new WebSocket(url + suffix, attachProtocols(token), { origin: locked.companion.urls.app });
          ws.once('open', () => {
            ws.close();
            resolve(ws.protocol);
          });
          ws.once('error', reject);
        });
      await expect(open('')).rejects.toThrow(/401/);
      await expect(open('?token=sesame')).rejects.toThrow(/401/);
      await expect(open('', 'wrong')).rejects.toThrow(/401/);
      await expect(open('', 'sesame-')).rejects.toThrow(/401/);
      // Accepted, and the answer names the protocol only: the token is not echoed back.
      expect(await open('', 'sesame')).toBe(TAB_ATTACH_SUBPROTOCOL);
    } finally {
      await locked.stop();
    }
  });
});
