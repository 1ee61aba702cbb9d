// The official OpenAI and Anthropic SDKs, unmodified, against handleApiRequest served from a Node
// http server through node-adapter.ts: streaming and not, usage, stop sequences, abort, errors.
import Anthropic from '@anthropic-ai/sdk';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { TokenTextStream } from '../tokenizer/index.ts';
import { createApiContext } from './context.ts';
import { nodeApiHandler, nodeApiRoutes } from './node-adapter.ts';
import type { ModelText } from '../provider/provider.ts';
import { loadModelText, ScriptedProvider, TEST_MODEL } from './testing/scripted-provider.ts';

const REPLY = 'Sure. Here is a short answer about the sea and the sky.';
let text: ModelText;
let provider: ScriptedProvider;
let server: Server;
let origin: string;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  text = await loadModelText(await ensureModel(TEST_MODEL));
  provider = new ScriptedProvider({ text, reply: REPLY, delayMs: 2 });
  server = createServer(nodeApiHandler(createApiContext({ provider })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  openai = new OpenAI({ baseURL: `${origin}/v1`, apiKey: 'not-needed', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: origin, apiKey: 'not-needed', maxRetries: 0 });
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const replyTokens = () => provider.replyTokens();
function decoded(tokens: number[]): string {
  const s = new TokenTextStream(text.tokenizer);
  return (
    tokens
      .filter((t) => !text.tokenizer.isEog(t))
      .map((t) => s.push(t))
      .join('') + s.flush()
  );
}
const promptLength = (messages: { role: string; content: string }[]) => text.tokenizer.tokenize(text.template.render(messages), { parseSpecial: true }).length;

const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Describe the sea.' },
];

describe('OpenAI SDK', () => {
  it('lists models', async () => {
    const ids = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    expect(ids).toEqual([TEST_MODEL]);
  });

  it('creates a chat completion with usage equal to the tokenizer counts', async () => {
    const { data, response } = await openai.chat.completions.create({ model: TEST_MODEL, messages }).withResponse();
    expect(data.choices[0].message.content).toBe(decoded(replyTokens()));
    expect(data.choices[0].finish_reason).toBe('stop');
    expect(data.usage).toMatchObject({ prompt_tokens: promptLength(messages), completion_tokens: replyTokens().length });
    expect(response.headers.get('x-mesh-served-by')).toContain('peer-a;layers=0-1');
  });

  it('streams chat deltas with a usage chunk', async () => {
    const stream = await openai.chat.completions.create({ model: TEST_MODEL, messages, stream: true, stream_options: { include_usage: true } });
    let content = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      content += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(content).toBe(decoded(replyTokens()));
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: promptLength(messages), completion_tokens: replyTokens().length });
  });

  it('applies stop sequences and max_tokens', async () => {
    const full = decoded(replyTokens());
    const stopped = await openai.chat.completions.create({ model: TEST_MODEL, messages, stop: ['sky'] });
    expect(stopped.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: full.slice(0, full.indexOf('sky')) } });
    const cut = await openai.chat.completions.create({ model: TEST_MODEL, messages, max_completion_tokens: 4 });
    expect(cut.choices[0]).toMatchObject({ finish_reason: 'length', message: { content: decoded(replyTokens().slice(0, 4)) } });
    expect(cut.usage?.completion_tokens).toBe(4);
  });

  it('completes a raw prompt, streaming', async () => {
    const stream = await openai.completions.create({ model: TEST_MODEL, prompt: 'The sea', max_tokens: 5, stream: true });
    let out = '';
    for await (const chunk of stream) out += chunk.choices[0]?.text ?? '';
    expect(out).toBe(decoded(replyTokens().slice(0, 5)));
  });

  it('aborts mid-stream and the generation stops', async () => {
    const before = provider.calls.length;
    const stream = await openai.chat.completions.create({ model: TEST_MODEL, messages, stream: true });
    let n = 0;
    for await (const _ of stream)
      if (++n === 3) {
        stream.controller.abort();
        break;
      }
    const call = provider.calls[before];
    await call.finished;
    expect(call.stoppedEarly).toBe(true);
    expect(call.yielded).toBeLessThan(replyTokens().length);
  });

  it('raises typed errors for bad requests', async () => {
    const bad = await openai.chat.completions.create({ model: TEST_MODEL, messages: [], max_tokens: 5 }).catch((e) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect(bad.status).toBe(400);
    expect(bad.param).toBe('messages');
    const missing = await openai.chat.completions.create({ model: 'gpt-nope', messages }).catch((e) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect(missing.code).toBe('model_not_found');
  });
});

describe('Anthropic SDK', () => {
  const params = { model: TEST_MODEL, max_tokens: 200, system: 'You are terse.', messages: [{ role: 'user' as const, content: 'Describe the sea.' }] };

  it('lists models', async () => {
    const ids = [];
    for await (const m of anthropic.models.list()) ids.push(m.id);
    expect(ids).toEqual([TEST_MODEL]);
  });

  it('creates a message with usage equal to the tokenizer counts', async () => {
    const msg = await anthropic.messages.create(params);
    expect(msg.content).toEqual([{ type: 'text', text: decoded(replyTokens()) }]);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.usage).toMatchObject({ input_tokens: promptLength(messages), output_tokens: replyTokens().length });
  });

  it('streams with the SDK helper', async () => {
    const stream = anthropic.messages.stream(params);
    let streamed = '';
    stream.on('text', (t) => {
      streamed += t;
    });
    const final = await stream.finalMessage();
    expect(streamed).toBe(decoded(replyTokens()));
    expect(final.content).toEqual([{ type: 'text', text: streamed }]);
    expect(final).toMatchObject({ stop_reason: 'end_turn', usage: { input_tokens: promptLength(messages), output_tokens: replyTokens().length } });
  });

  it('reports stop_sequence and max_tokens', async () => {
    const full = decoded(replyTokens());
    const stopped = await anthropic.messages.create({ ...params, stop_sequences: ['sky'] });
    expect(stopped).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'sky', content: [{ text: full.slice(0, full.indexOf('sky')) }] });
    const cut = await anthropic.messages.stream({ ...params, max_tokens: 3 }).finalMessage();
    expect(cut).toMatchObject({ stop_reason: 'max_tokens', usage: { output_tokens: 3 } });
  });

  it('counts tokens', async () => {
    expect(await anthropic.messages.countTokens({ model: TEST_MODEL, system: params.system, messages: params.messages })).toEqual({
      input_tokens: promptLength(messages),
    });
  });

  it('aborts mid-stream and the generation stops', async () => {
    const before = provider.calls.length;
    const stream = await anthropic.messages.create({ ...params, stream: true });
    let n = 0;
    for await (const _ of stream)
      if (++n === 5) {
        stream.controller.abort();
        break;
      }
    const call = provider.calls[before];
    await call.finished;
    expect(call.stoppedEarly).toBe(true);
  });

  it('raises typed errors for bad requests', async () => {
    const bad = await anthropic.messages.create({ ...params, max_tokens: -1 }).catch((e) => e);
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
    expect(bad.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('max_tokens') } });
    const missing = await anthropic.messages.create({ ...params, model: 'claude-nope' }).catch((e) => e);
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
  });
});

describe('Node adapter', () => {
  it('refuses an oversized streamed body with 413 and keeps serving', async () => {
    const big = new ReadableStream({
      start(c) {
        for (let i = 0; i < 80; i++) c.enqueue(new TextEncoder().encode('x'.repeat(64 * 1024)));
        c.close();
      },
    });
    // @ts-expect-error duplex is required by Node's fetch for a streamed body
    const res = await fetch(`${origin}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big, duplex: 'half' });
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe('request_too_large');
    expect((await openai.chat.completions.create({ model: TEST_MODEL, messages, max_tokens: 2 })).choices[0].finish_reason).toBe('length');
  });

  it('gives a route table entry for every exact API path, each serving the API', async () => {
    const routes = nodeApiRoutes(createApiContext({ provider }));
    expect(routes.map((r) => `${r.method} ${r.path}`).sort()).toEqual([
      'GET /v1/models',
      'POST /v1/chat/completions',
      'POST /v1/completions',
      'POST /v1/messages',
      'POST /v1/messages/count_tokens',
    ]);
    const models = routes.find((r) => r.path === '/v1/models')!;
    const table = createServer((req, res) => void models.handle({ req, res }));
    await new Promise<void>((resolve) => table.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(table.address() as AddressInfo).port}/v1/models`);
      expect((await res.json()).data[0].id).toBe(TEST_MODEL);
    } finally {
      table.closeAllConnections();
      await new Promise((resolve) => table.close(resolve));
    }
  });
});
