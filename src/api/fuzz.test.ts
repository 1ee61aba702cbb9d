// Malformed requests of every kind the issue lists (bad JSON, wrong types, missing fields, oversized
// bodies, unknown model, negative or huge max_tokens, invalid roles, wrong content types): each must
// get a 4xx in the right protocol's shape, and the API must still serve correctly afterwards.
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { createApiContext, type ApiContext } from './context.ts';
import { handleApiRequest } from './handler.ts';
import { BASE, parseSse, post } from './test-helpers.ts';
import { loadModelText, ScriptedProvider, TEST_MODEL } from './testing.ts';

const MAX_BODY = 16 * 1024;

let ctx: ApiContext;
let provider: ScriptedProvider;
beforeAll(async () => {
  provider = new ScriptedProvider({ text: await loadModelText(await ensureModel(TEST_MODEL)), reply: 'All good here.', contextLength: 512 });
  ctx = createApiContext({ provider, maxBodyBytes: MAX_BODY });
});

type Shape = 'openai' | 'anthropic';
interface Case { name: string; request: () => Request; shape: Shape }

const user = [{ role: 'user', content: 'hi' }];
const GOOD: Record<string, Record<string, unknown>> = {
  '/v1/chat/completions': { model: TEST_MODEL, messages: user, max_tokens: 8 },
  '/v1/completions': { model: TEST_MODEL, prompt: 'hi', max_tokens: 8 },
  '/v1/messages': { model: TEST_MODEL, max_tokens: 8, messages: user },
  '/v1/messages/count_tokens': { model: TEST_MODEL, messages: user },
};
const shapeOf = (path: string): Shape => (path.startsWith('/v1/messages') ? 'anthropic' : 'openai');

/** Values that are wrong for the field at hand (null is "absent" for optional fields, so not here). */
const WRONG: Record<string, unknown[]> = {
  model: [1, true, [], {}, ''],
  messages: ['hi', 5, {}, [], [1], [null], [{}], [{ role: 'user' }], [{ role: 'user', content: 7 }], [{ role: 'user', content: [{ type: 'text' }] }], [{ role: 'user', content: [{ type: 'image_url' }] }]],
  max_tokens: [-1, 0, 1.5, '16', 1e12, 2 ** 53, true, [], {}],
  max_completion_tokens: [-7, 0, 'x', 1e15],
  temperature: [-0.1, 5, 'hot', [], {}],
  top_p: [0, -1, 1.5, 'x'],
  top_k: [-1, 0.5, 'x'],
  min_p: [-0.5, 2],
  stream: ['yes', 1, {}],
  stop: [1, [1], [''], {}, Array(40).fill('s')],
  stop_sequences: ['END', [2], ['']],
  seed: [0.5, 'x'],
  n: [0, 2, 'one'],
  prompt: [5, {}, [], ['a', 'b'], [-1], [[]], [true]],
  system: [5, [{ type: 'image' }], [{ type: 'text' }]],
  tools: ['x', [1], [{ type: 'function' }], [{ type: 'function', function: { name: 'bad name' } }], [{ name: 'x' }]],
  tool_choice: ['maybe', 5, { type: 'function', function: { name: 'missing' } }, { type: 'weird' }],
  stream_options: [{ include_usage: true }, 'x'],
};
const FIELDS: Record<string, string[]> = {
  '/v1/chat/completions': ['model', 'messages', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'top_k', 'min_p', 'stream', 'stop', 'seed', 'n', 'tools', 'tool_choice', 'stream_options'],
  '/v1/completions': ['model', 'prompt', 'max_tokens', 'temperature', 'top_p', 'stream', 'stop', 'seed', 'n'],
  '/v1/messages': ['model', 'messages', 'max_tokens', 'temperature', 'top_p', 'top_k', 'stream', 'stop_sequences', 'system', 'tools', 'tool_choice'],
  '/v1/messages/count_tokens': ['model', 'messages', 'system', 'tools'],
};
const REQUIRED: Record<string, string[]> = {
  '/v1/chat/completions': ['model', 'messages'],
  '/v1/completions': ['model', 'prompt'],
  '/v1/messages': ['model', 'messages', 'max_tokens'],
  '/v1/messages/count_tokens': ['model', 'messages'],
};

function cases(): Case[] {
  const out: Case[] = [];
  let seed = 12345;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  for (const [path, good] of Object.entries(GOOD)) {
    const shape = shapeOf(path);
    const add = (name: string, request: () => Request) => out.push({ name: `${path} ${name}`, request, shape });
    const text = JSON.stringify(good);
    // bad JSON: truncations, garbage, non-objects
    for (let i = 0; i < 6; i++) { const cut = 1 + rand(text.length - 2); add(`truncated at ${cut}`, () => post(path, text.slice(0, cut))); }
    for (const raw of ['', ' ', 'null', '[]', '42', '"text"', '{model:1}', "{'a':1}", '{"a":1,}', '\u0000\u0001', 'true']) add(`body ${JSON.stringify(raw)}`, () => post(path, raw));
    add('invalid UTF-8', () => new Request(`${BASE}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) }));
    // wrong content types
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
      add(`content-type ${type}`, () => post(path, text, { 'content-type': type }));
    }
    // oversized
    add('oversized body', () => post(path, { ...good, pad: 'x'.repeat(MAX_BODY) }));
    add('oversized declared length', () => post(path, text, { 'content-length': String(MAX_BODY * 10) }));
    // missing required fields
    for (const field of REQUIRED[path]) add(`missing ${field}`, () => post(path, { ...good, [field]: undefined }));
    // wrong types and out-of-range values, field by field
    for (const field of FIELDS[path]) for (const value of WRONG[field]) add(`${field}=${JSON.stringify(value)?.slice(0, 40)}`, () => post(path, { ...good, [field]: value }));
    // unknown model, invalid roles
    add('unknown model', () => post(path, { ...good, model: 'no-such-model' }));
    if (path !== '/v1/completions') {
      for (const role of ['wizard', 'System', 'function', '', 'ai']) add(`role ${role}`, () => post(path, { ...good, messages: [{ role, content: 'x' }] }));
    }
    // wrong methods
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) add(`method ${method}`, () => new Request(`${BASE}${path}`, { method, ...(method === 'GET' ? {} : { body: text }) }));
  }
  for (const path of ['/v1/chat', '/v1/embeddings', '/v2/chat/completions', '/', '/v1/messages/batches', '/v1/models/x/y']) {
    out.push({ name: `unknown route ${path}`, request: () => post(path, {}), shape: shapeOf(path) });
  }
  return out;
}

describe('fuzzing with malformed requests', () => {
  const all = cases();
  it('has at least 200 of them', () => {
    expect(all.length).toBeGreaterThanOrEqual(200);
  });

  it('answers each with a 4xx in its protocol shape, then still serves correctly', async () => {
    const failures: string[] = [];
    for (const c of all) {
      const res = await handleApiRequest(c.request(), ctx);
      const body = await res.json().catch(() => undefined);
      const ok = res.status >= 400 && res.status < 500 && (c.shape === 'openai'
        ? typeof body?.error?.message === 'string' && typeof body.error.type === 'string' && 'param' in body.error && 'code' in body.error
        : body?.type === 'error' && typeof body.error?.type === 'string' && typeof body.error.message === 'string');
      if (!ok) failures.push(`${c.name}: ${res.status} ${JSON.stringify(body)}`);
    }
    expect(failures).toEqual([]);
    expect(provider.calls).toHaveLength(0); // nothing malformed reached the model

    const chat = await (await handleApiRequest(post('/v1/chat/completions', { ...GOOD['/v1/chat/completions'], stream: true }), ctx)).text();
    expect(parseSse(chat).at(-1)!.data).toBe('[DONE]');
    const message = await (await handleApiRequest(post('/v1/messages', GOOD['/v1/messages']), ctx)).json();
    expect(message.content[0].text).toContain('All good here.');
  });
});
