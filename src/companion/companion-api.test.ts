// The companion serving the OpenAI and Anthropic APIs from its own Node engine (a real tiny model),
// driven by the official SDKs, unmodified: answers equal the engine's own greedy output, usage equals
// the tokenizer's counts, stop sequences, max tokens, abort, errors, CORS, and 32 concurrent streams.
import Anthropic from '@anthropic-ai/sdk';
import { get } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPANION_TEST_MODEL as MODEL, greedyChat, startTestCompanion, type TestCompanion } from './testing/companion.ts';

let t: TestCompanion;
let api: string;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  t = await startTestCompanion();
  api = t.companion.urls.api;
  openai = new OpenAI({ baseURL: `${api}/v1`, apiKey: 'not-needed', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: api, apiKey: 'not-needed', maxRetries: 0 });
});
afterAll(async () => {
  await t?.stop();
});

const chat = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Describe the sea.' },
];
const user = [{ role: 'user' as const, content: 'Describe the sea.' }];

/** A stop string that first occurs well inside `text`, and the text before it. */
function stopInside(text: string): { stop: string; before: string } {
  for (let at = Math.floor(text.length / 3); at < text.length - 3; at++) {
    const stop = text.slice(at, at + 3);
    if (stop.trim().length === 3 && text.indexOf(stop) === at) return { stop, before: text.slice(0, at) };
  }
  throw new Error(`no usable stop string in ${JSON.stringify(text)}`);
}

describe('companion API with the OpenAI SDK', () => {
  it("answers a chat completion with the engine's greedy text and the tokenizer's usage counts", async () => {
    const want = await greedyChat(t, chat, 16);
    const { data, response } = await openai.chat.completions.create({ model: MODEL, messages: chat, max_tokens: 16, temperature: 0 }).withResponse();
    expect(data.choices[0].message.content).toBe(want.text);
    expect(data.choices[0].finish_reason).toBe(want.eog ? 'stop' : 'length');
    expect(data.usage).toEqual({
      prompt_tokens: want.promptTokens,
      completion_tokens: want.completionTokens,
      total_tokens: want.promptTokens + want.completionTokens,
    });
    expect(response.headers.get('x-mesh-served-by')).toBe('companion;layers=0-2');
  });

  it('streams the same text with a usage chunk', async () => {
    const want = await greedyChat(t, chat, 16);
    const stream = await openai.chat.completions.create({
      model: MODEL,
      messages: chat,
      max_tokens: 16,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let content = '';
    let chunks = 0;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      chunks++;
      content += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(content).toBe(want.text);
    expect(chunks).toBeGreaterThan(3); // token by token, not one blob
    expect(usage).toMatchObject({ prompt_tokens: want.promptTokens, completion_tokens: want.completionTokens });
  });

  it('stops at a stop sequence and at max_tokens', async () => {
    const want = await greedyChat(t, chat, 24);
    const { stop, before } = stopInside(want.text);
    const stopped = await openai.chat.completions.create({ model: MODEL, messages: chat, max_tokens: 24, temperature: 0, stop: [stop] });
    expect(stopped.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: before } });
    const short = await greedyChat(t, chat, 5);
    const cut = await openai.chat.completions.create({ model: MODEL, messages: chat, max_completion_tokens: 5, temperature: 0 });
    expect(cut.choices[0].message.content).toBe(short.text);
    expect(cut.usage?.completion_tokens).toBe(short.completionTokens);
  });

  it('lists and retrieves the served model, and /health names it', async () => {
    const ids = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    expect(ids).toEqual([MODEL]);
    expect(await openai.models.retrieve(MODEL)).toMatchObject({ id: MODEL, owned_by: 'companion' });
    const health = await (await fetch(`${api}/health`)).json();
    expect(health.models).toEqual([expect.objectContaining({ id: MODEL, layers: 2, backend: t.served.info.backend })]);
  });

  it('stops the engine when the client aborts mid-stream', async () => {
    const before = t.provider.calls.length;
    const stream = await openai.chat.completions.create({ model: MODEL, messages: chat, max_tokens: 1500, temperature: 0, stream: true });
    let n = 0;
    for await (const _ of stream)
      if (++n === 4) {
        stream.controller.abort();
        break;
      }
    const call = t.provider.calls[before];
    await call.finished;
    expect(call.yielded).toBeLessThan(50);
    // the queue slot is free again: the next request is served at once
    const next = await openai.chat.completions.create({ model: MODEL, messages: chat, max_tokens: 2 });
    expect(next.choices[0].finish_reason).toBeDefined();
  });

  it('raises typed errors for bad requests', async () => {
    const bad = await openai.chat.completions.create({ model: MODEL, messages: [] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('messages');
    const missing = await openai.chat.completions.create({ model: 'gpt-nope', messages: chat }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect((missing as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
    const huge = await openai.chat.completions.create({ model: MODEL, messages: chat, max_tokens: 10_000_000 }).catch((e: unknown) => e);
    expect(huge).toBeInstanceOf(OpenAI.BadRequestError);
  });
});

describe('companion API with the Anthropic SDK', () => {
  const params = { model: MODEL, max_tokens: 16, temperature: 0, system: 'You are terse.', messages: user };

  it('creates a message with the greedy text and usage', async () => {
    const want = await greedyChat(t, chat, 16);
    const msg = await anthropic.messages.create(params);
    expect(msg.content).toEqual([{ type: 'text', text: want.text }]);
    expect(msg.stop_reason).toBe(want.eog ? 'end_turn' : 'max_tokens');
    expect(msg.usage).toMatchObject({ input_tokens: want.promptTokens, output_tokens: want.completionTokens });
  });

  it('streams with the SDK helper', async () => {
    const want = await greedyChat(t, chat, 16);
    const stream = anthropic.messages.stream(params);
    let streamed = '';
    stream.on('text', (text) => {
      streamed += text;
    });
    const final = await stream.finalMessage();
    expect(streamed).toBe(want.text);
    expect(final.usage).toMatchObject({ input_tokens: want.promptTokens, output_tokens: want.completionTokens });
  });

  it('reports stop_sequence, and counts tokens as the tokenizer does', async () => {
    const want = await greedyChat(t, chat, 24);
    const { stop, before } = stopInside(want.text);
    const stopped = await anthropic.messages.create({ ...params, max_tokens: 24, stop_sequences: [stop] });
    expect(stopped).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: stop, content: [{ type: 'text', text: before }] });
    expect(await anthropic.messages.countTokens({ model: MODEL, system: params.system, messages: user })).toEqual({ input_tokens: want.promptTokens });
  });

  it('stops the engine when the client aborts mid-stream', async () => {
    const before = t.provider.calls.length;
    const stream = await anthropic.messages.create({ ...params, max_tokens: 1500, stream: true });
    let n = 0;
    for await (const _ of stream)
      if (++n === 6) {
        stream.controller.abort();
        break;
      }
    const call = t.provider.calls[before];
    await call.finished;
    expect(call.yielded).toBeLessThan(50);
  });

  it("raises typed errors in Anthropic's shape, also for unknown /v1/messages routes", async () => {
    const bad = await anthropic.messages.create({ ...params, max_tokens: -1 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
    expect((bad as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const missing = await anthropic.messages.create({ ...params, model: 'claude-nope' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    const route = await fetch(`${api}/v1/messages/batches`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(route.status).toBe(404);
    expect(await route.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });
});

describe('companion API over HTTP', () => {
  it("allows the app's origin (preflight included) and refuses other sites", async () => {
    const app = t.companion.urls.app;
    const preflight = await fetch(`${api}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { Origin: app, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type, authorization' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(app);
    const models = await fetch(`${api}/v1/models`, { headers: { Origin: app } });
    expect(models.headers.get('access-control-expose-headers')).toContain('x-mesh-served-by');
    expect((await models.json()).data[0].id).toBe(MODEL);
    const other = await fetch(`${api}/v1/models`, { headers: { Origin: 'https://evil.example' } });
    expect(other.status).toBe(403);
    expect((await other.json()).error.code).toBe('origin_not_allowed');
  });

  it('publishes its API URL and the sites allowed to embed it (none by default) at /companion.json', async () => {
    // Asked from this machine by a loopback name, it also gives the private mesh's invite (Home shares it).
    expect(await (await fetch(`${t.companion.urls.app}/companion.json`)).json()).toEqual({
      api,
      embed_origins: [],
      nostr: t.companion.urls.nostr,
      invite: t.companion.mesh.link,
    });
    // Asked by another name (a DNS-rebound page would be), the secret is left out.
    const rebound = await new Promise<string>((resolve, reject) => {
      get(`${t.companion.urls.app}/companion.json`, { headers: { host: 'attacker.example' } }, (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (chunk: string) => (body += chunk))
          .on('end', () => resolve(body));
      }).on('error', reject);
    });
    expect(JSON.parse(rebound)).toEqual({ api: expect.any(String), embed_origins: [], nostr: expect.any(String) });
  });

  it('completes 32 concurrent streaming requests, each with the text it gets alone (greedy)', async () => {
    const prompts = Array.from({ length: 32 }, (_, i) => [{ role: 'user' as const, content: `Tell me fact number ${i} about the number ${i * 7}.` }]);
    const alone = [];
    for (const p of prompts) alone.push(await greedyChat(t, p, 8));
    const results = await Promise.all(
      prompts.map(async (messages, i) => {
        // half through each SDK (one queue key: the key is the connection's address, not a header)
        if (i % 2 === 0) {
          const stream = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 8, temperature: 0, stream: true });
          let text = '';
          for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
          return text;
        }
        const stream = anthropic.messages.stream({ model: MODEL, max_tokens: 8, temperature: 0, messages });
        let text = '';
        stream.on('text', (delta) => {
          text += delta;
        });
        await stream.finalMessage();
        return text;
      }),
    );
    expect(results).toEqual(alone.map((a) => a.text));
  }, 120_000);
});
