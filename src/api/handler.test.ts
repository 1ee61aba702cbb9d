// handleApiRequest end to end with Fetch objects: a scripted provider over the real tokenizer of a
// generated test model, so token counts, text and stop handling can be checked exactly.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { TokenTextStream } from '../tokenizer/index.ts';
import { createApiContext, type ApiOptions } from './context.ts';
import { handleApiRequest } from './handler.ts';
import type { ModelText } from '../provider/provider.ts';
import { BASE, parseSse, post } from './testing/requests.ts';
import { loadModelText, ScriptedProvider, TEST_MODEL, type ScriptedOptions } from './testing/scripted-provider.ts';

let text: ModelText;
beforeAll(async () => {
  text = await loadModelText(await ensureModel(TEST_MODEL));
});

const REPLY = 'The quick brown fox jumps over the lazy dog.';
const USER = [{ role: 'user', content: 'Tell me something.' }];

function setup(options: Partial<ScriptedOptions> = {}, api: Partial<ApiOptions> = {}) {
  const provider = new ScriptedProvider({ text, reply: REPLY, ...options });
  const ctx = createApiContext({ provider, ...api });
  return { provider, ctx, call: (r: Request) => handleApiRequest(r, ctx) };
}

/** The text the tokenizer streams for these tokens (EOG excluded), computed apart from the API. */
function decoded(tokens: number[]): string {
  const s = new TokenTextStream(text.tokenizer);
  return (
    tokens
      .filter((t) => !text.tokenizer.isEog(t))
      .map((t) => s.push(t))
      .join('') + s.flush()
  );
}

function chatPromptLength(messages: { role: string; content: string }[]): number {
  return text.tokenizer.tokenize(text.template.render(messages), { parseSpecial: true }).length;
}

/** A 2-character stop string spanning the boundary between two generated tokens. */
function boundaryStop(tokens: number[]): { stop: string; before: string } {
  const full = decoded(tokens);
  for (let i = 2; i < tokens.length - 2; i++) {
    const at = decoded(tokens.slice(0, i)).length;
    const stop = full.slice(at - 1, at + 1);
    if (stop.trim().length === 2 && full.indexOf(stop) === at - 1) return { stop, before: full.slice(0, at - 1) };
  }
  throw new Error('no boundary found');
}

describe('models', () => {
  it('lists models in OpenAI shape, and in Anthropic shape for Anthropic clients', async () => {
    const { call } = setup();
    const openai = await (await call(new Request(`${BASE}/v1/models`))).json();
    expect(openai).toEqual({ object: 'list', data: [{ id: TEST_MODEL, object: 'model', created: 1_700_000_000, owned_by: 'test-mesh', context_length: 512 }] });
    const anthropic = await (await call(new Request(`${BASE}/v1/models`, { headers: { 'anthropic-version': '2023-06-01' } }))).json();
    expect(anthropic).toMatchObject({ data: [{ type: 'model', id: TEST_MODEL }], has_more: false, first_id: TEST_MODEL });
  });
  it('retrieves one model, 404 model_not_found for others', async () => {
    const { call } = setup();
    expect((await (await call(new Request(`${BASE}/v1/models/${TEST_MODEL}`))).json()).id).toBe(TEST_MODEL);
    const res = await call(new Request(`${BASE}/v1/models/nope`));
    expect(res.status).toBe(404);
    expect((await res.json()).error).toMatchObject({ code: 'model_not_found', param: 'model' });
  });
});

describe('POST /v1/chat/completions', () => {
  it('answers with the reply, usage equal to the tokenizer counts, and who served it', async () => {
    const { call, provider } = setup();
    const res = await call(post('/v1/chat/completions', { model: TEST_MODEL, messages: USER }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mesh-served-by')).toBe('peer-a;layers=0-1, peer-b;layers=1-2');
    const body = await res.json();
    const tokens = provider.replyTokens();
    expect(body).toMatchObject({
      object: 'chat.completion',
      model: TEST_MODEL,
      choices: [{ index: 0, message: { role: 'assistant', content: decoded(tokens) }, finish_reason: 'stop' }],
      usage: { prompt_tokens: chatPromptLength(USER), completion_tokens: tokens.length, total_tokens: chatPromptLength(USER) + tokens.length },
      mesh: {
        served_by: [
          { peer: 'peer-a', layers: [0, 1] },
          { peer: 'peer-b', layers: [1, 2] },
        ],
      },
    });
    expect(decoded(tokens).trim()).toBe(REPLY);
    expect(provider.calls[0].request.promptTokens.length).toBe(chatPromptLength(USER));
  });

  it('streams a role delta, content deltas, a finish chunk, a usage chunk and [DONE]', async () => {
    const { call, provider } = setup();
    const res = await call(post('/v1/chat/completions', { model: TEST_MODEL, messages: USER, stream: true, stream_options: { include_usage: true } }));
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const frames = parseSse(await res.text());
    expect(frames.at(-1)!.data).toBe('[DONE]');
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f.data));
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks[0].mesh.served_by).toHaveLength(2);
    const content = chunks
      .slice(1, -2)
      .map((c) => c.choices[0].delta.content)
      .join('');
    const tokens = provider.replyTokens();
    expect(content).toBe(decoded(tokens));
    expect(chunks.slice(1, -2).length).toBeGreaterThan(3); // really streamed, not one blob
    expect(chunks.at(-2).choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: chatPromptLength(USER), completion_tokens: tokens.length } });
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeNull();
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  });

  it('sends no usage chunk unless asked', async () => {
    const { call } = setup();
    const frames = parseSse(await (await call(post('/v1/chat/completions', { model: TEST_MODEL, messages: USER, stream: true }))).text());
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f.data));
    expect(chunks.every((c) => c.choices.length === 1 && !('usage' in c))).toBe(true);
  });

  it('stops at a stop sequence that spans two tokens without sending any of it', async () => {
    const { call, provider } = setup();
    const tokens = provider.replyTokens();
    const { stop, before } = boundaryStop(tokens);
    const frames = parseSse(await (await call(post('/v1/chat/completions', { model: TEST_MODEL, messages: USER, stream: true, stop: ['zzz', stop] }))).text());
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f.data));
    const deltas = chunks.map((c) => c.choices[0]?.delta?.content ?? '');
    expect(deltas.join('')).toBe(before);
    expect(chunks.at(-1).choices[0].finish_reason).toBe('stop');
    await provider.calls[0].finished;
    expect(provider.calls[0].stoppedEarly).toBe(true);
  });

  it('ends with finish_reason length at max_tokens, counting exactly that many tokens', async () => {
    const { call, provider } = setup();
    const body = await (await call(post('/v1/chat/completions', { model: TEST_MODEL, messages: USER, max_tokens: 3 }))).json();
    expect(body.choices[0]).toMatchObject({ finish_reason: 'length', message: { content: decoded(provider.replyTokens().slice(0, 3)) } });
    expect(body.usage.completion_tokens).toBe(3);
    expect(provider.calls[0].request.maxTokens).toBe(3);
  });

  it('fits max tokens into the context, and refuses a prompt that does not fit', async () => {
    const n = chatPromptLength(USER);
    const fit = setup({ contextLength: n + 2 });
    const body = await (await fit.call(post('/v1/chat/completions', { model: TEST_MODEL, messages: USER }))).json();
    expect(body.choices[0].finish_reason).toBe('length');
    expect(body.usage.completion_tokens).toBe(2);
    const over = setup({ contextLength: n });
    const res = await over.call(post('/v1/chat/completions', { model: TEST_MODEL, messages: USER }));
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe('context_length_exceeded');
    expect(over.provider.calls).toHaveLength(0);
  });

  it.each(['aborts its signal', 'cancels the body'])('stops the provider when the client %s mid-stream', async (how) => {
    const { call, provider } = setup({ delayMs: 15, reply: REPLY.repeat(4) });
    const abort = new AbortController();
    const req = post('/v1/chat/completions', { model: TEST_MODEL, messages: USER, stream: true });
    const res = await call(new Request(req, { signal: abort.signal }));
    const reader = res.body!.getReader();
    for (let chunks = 0; chunks < 3; chunks++) expect((await reader.read()).done).toBe(false);
    if (how === 'aborts its signal') abort.abort();
    else await reader.cancel();
    await provider.calls[0].finished;
    expect(provider.calls[0].stoppedEarly).toBe(true);
    expect(provider.calls[0].yielded).toBeLessThan(provider.replyTokens(REPLY.repeat(4)).length / 2);
    expect(provider.calls[0].request.signal.aborted).toBe(true);
  });

  it('delivers the client abort after the streaming handler returned and its Request was collected', async () => {
    // undici's Request owns the AbortController behind request.signal: a run that kept only the
    // signal never heard the client leave once the Request was garbage-collected.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { call, provider } = setup({ delayMs: 15, reply: REPLY.repeat(4) });
    const abort = new AbortController();
    const res = await call(new Request(post('/v1/chat/completions', { model: TEST_MODEL, messages: USER, stream: true }), { signal: abort.signal }));
    const reader = res.body!.getReader();
    for (let chunks = 0; chunks < 3; chunks++) expect((await reader.read()).done).toBe(false);
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 5));
    }
    abort.abort();
    await provider.calls[0].finished;
    expect(provider.calls[0].stoppedEarly).toBe(true);
  });

  it('renders tool calls the model writes as tool_calls', async () => {
    const call = '<tool_call>\n{"name": "weather", "arguments": {"city": "Paris"}}\n</tool_call>';
    const { call: send } = setup({ reply: call });
    const tools = [{ type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const body = await (await send(post('/v1/chat/completions', { model: TEST_MODEL, messages: USER, tools }))).json();
    expect(body.choices[0].finish_reason).toBe('tool_calls');
    expect(body.choices[0].message.content).toBeNull();
    expect(body.choices[0].message.tool_calls).toEqual([
      { id: expect.any(String), type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
    ]);
  });

  it('reports a provider failure mid-stream as an error chunk', async () => {
    const provider = new ScriptedProvider({ text, reply: REPLY });
    provider.generate = async () => ({
      servedBy: [],
      tokens: (async function* () {
        yield provider.replyTokens()[0];
        throw new Error('peer went away');
      })(),
    });
    const ctx = createApiContext({ provider });
    const frames = parseSse(await (await handleApiRequest(post('/v1/chat/completions', { model: TEST_MODEL, messages: USER, stream: true }), ctx)).text());
    expect(JSON.parse(frames.at(-1)!.data).error).toMatchObject({ type: 'server_error', message: expect.stringContaining('peer went away') });
  });
});

describe('POST /v1/completions', () => {
  it('completes a raw prompt with usage from the tokenizer', async () => {
    const { call, provider } = setup();
    const body = await (await call(post('/v1/completions', { model: TEST_MODEL, prompt: 'Once upon a time', max_tokens: 50 }))).json();
    expect(body).toMatchObject({
      object: 'text_completion',
      choices: [{ text: decoded(provider.replyTokens()), finish_reason: 'stop' }],
      usage: { prompt_tokens: text.tokenizer.tokenize('Once upon a time').length, completion_tokens: provider.replyTokens().length },
    });
  });
  it('streams text chunks and [DONE]; max_tokens defaults to 16', async () => {
    const { call, provider } = setup({ reply: REPLY.repeat(3) });
    const frames = parseSse(await (await call(post('/v1/completions', { model: TEST_MODEL, prompt: [1, 450], stream: true }))).text());
    expect(frames.at(-1)!.data).toBe('[DONE]');
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f.data));
    expect(chunks.map((c) => c.choices[0].text).join('')).toBe(decoded(provider.replyTokens(REPLY.repeat(3)).slice(0, 16)));
    expect(chunks.at(-1).choices[0].finish_reason).toBe('length');
    expect(provider.calls[0].request.promptTokens).toEqual([1, 450]);
  });
});

describe('POST /v1/messages', () => {
  const anthropic = { model: TEST_MODEL, max_tokens: 100, system: 'Be brief.', messages: USER };
  const rendered = [{ role: 'system', content: 'Be brief.' }, ...USER];

  it('answers with content blocks, stop_reason and usage', async () => {
    const { call, provider } = setup();
    const res = await call(post('/v1/messages', anthropic));
    expect(res.headers.get('x-mesh-served-by')).toContain('peer-a');
    expect(await res.json()).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: TEST_MODEL,
      content: [{ type: 'text', text: decoded(provider.replyTokens()) }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: chatPromptLength(rendered), output_tokens: provider.replyTokens().length },
    });
  });

  it('streams the event sequence the SDK expects', async () => {
    const { call, provider } = setup();
    const frames = parseSse(await (await call(post('/v1/messages', { ...anthropic, stream: true }))).text());
    const events = frames.map((f) => ({ event: f.event, data: JSON.parse(f.data) }));
    for (const e of events) expect(e.data.type).toBe(e.event);
    const types = events.map((e) => e.event);
    expect(types.slice(0, 3)).toEqual(['message_start', 'content_block_start', 'ping']);
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(new Set(types.slice(3, -3))).toEqual(new Set(['content_block_delta']));
    expect(events[0].data.message.usage.input_tokens).toBe(chatPromptLength(rendered));
    expect(
      events
        .filter((e) => e.event === 'content_block_delta')
        .map((e) => e.data.delta.text)
        .join(''),
    ).toBe(decoded(provider.replyTokens()));
    expect(events.at(-2)!.data).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: provider.replyTokens().length },
    });
  });

  it('reports stop_sequence and max_tokens', async () => {
    const { call, provider } = setup();
    const { stop, before } = boundaryStop(provider.replyTokens());
    const stopped = await (await call(post('/v1/messages', { ...anthropic, stop_sequences: [stop] }))).json();
    expect(stopped).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: stop, content: [{ text: before }] });
    const cut = await (await call(post('/v1/messages', { ...anthropic, max_tokens: 2 }))).json();
    expect(cut).toMatchObject({ stop_reason: 'max_tokens', usage: { output_tokens: 2 } });
  });

  it('counts tokens as the prompt the model would see', async () => {
    const { call } = setup();
    const res = await call(post('/v1/messages/count_tokens', { model: TEST_MODEL, system: 'Be brief.', messages: USER }));
    expect(await res.json()).toEqual({ input_tokens: chatPromptLength(rendered) });
  });
});

describe('request errors', () => {
  it('refuses bad JSON, wrong content types, big bodies in each protocol shape', async () => {
    const { call } = setup({}, { maxBodyBytes: 1000 });
    const badJson = await call(post('/v1/chat/completions', '{"model": '));
    expect(badJson.status).toBe(400);
    expect((await badJson.json()).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json' });
    const anthropicJson = await call(post('/v1/messages', '{nope'));
    expect(await anthropicJson.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const form = await call(post('/v1/chat/completions', 'a=b', { 'content-type': 'application/x-www-form-urlencoded' }));
    expect(form.status).toBe(415);
    expect((await form.json()).error.message).toContain('application/json');
    const big = await call(post('/v1/messages', { model: TEST_MODEL, max_tokens: 1, messages: [{ role: 'user', content: 'x'.repeat(2000) }] }));
    expect(big.status).toBe(413);
    expect((await big.json()).error.type).toBe('request_too_large');
  });
  it('answers unknown routes with 404 and wrong methods with 405 + Allow', async () => {
    const { call } = setup();
    const missing = await call(new Request(`${BASE}/v1/embeddings`, { method: 'POST', body: '{}' }));
    expect(missing.status).toBe(404);
    expect((await missing.json()).error.code).toBe('unknown_route');
    const method = await call(new Request(`${BASE}/v1/chat/completions`));
    expect(method.status).toBe(405);
    expect(method.headers.get('allow')).toBe('POST');
    const anthropic = await call(new Request(`${BASE}/v1/messages`, { method: 'PUT', body: '{}' }));
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });
  it('names an unknown model with a 404 in each shape', async () => {
    const { call } = setup();
    const o = await call(post('/v1/chat/completions', { model: 'gpt-9', messages: USER }));
    expect(o.status).toBe(404);
    expect((await o.json()).error).toMatchObject({ code: 'model_not_found', message: expect.stringContaining(TEST_MODEL) });
    const a = await call(post('/v1/messages', { model: 'claude-9', max_tokens: 5, messages: USER }));
    expect(await a.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });
  it('answers 503 in each shape when no peer serves any model', async () => {
    const provider = new ScriptedProvider({ text });
    provider.listModels = () => [];
    const ctx = createApiContext({ provider });
    const o = await handleApiRequest(post('/v1/chat/completions', { model: TEST_MODEL, messages: USER }), ctx);
    expect(o.status).toBe(503);
    expect(o.headers.get('retry-after')).toBe('5');
    expect((await o.json()).error).toMatchObject({ type: 'server_error', code: 'no_model_available' });
    const a = await handleApiRequest(post('/v1/messages', { model: TEST_MODEL, max_tokens: 5, messages: USER }), ctx);
    expect(a.status).toBe(503);
    expect(await a.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
  });
  it('answers 429 with Retry-After when the model queue is full, and serves the queued ones', async () => {
    const { call, provider } = setup({ delayMs: 5 }, { queue: { concurrency: 1, maxQueued: 1, retryAfterSeconds: 7 } });
    const body = { model: TEST_MODEL, messages: USER, stream: true };
    const first = await call(post('/v1/chat/completions', body));
    const second = call(post('/v1/chat/completions', body));
    await new Promise((r) => setTimeout(r, 20));
    const third = await call(post('/v1/chat/completions', body));
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('7');
    expect((await third.json()).error.code).toBe('rate_limit_exceeded');
    expect(parseSse(await first.text()).at(-1)!.data).toBe('[DONE]');
    expect(parseSse(await (await second).text()).at(-1)!.data).toBe('[DONE]');
    expect(provider.calls).toHaveLength(2);
  });
});
