// Malformed requests of every kind the issue lists (bad JSON, wrong types, missing fields, oversized
// bodies, unknown model, negative or huge max_tokens, invalid roles, wrong content types), as data:
// the API's own fuzz test sends them to handleApiRequest, the companion's over HTTP.
export type Shape = 'openai' | 'anthropic';

/** One malformed request as plain data, so it can be sent as a Fetch Request or over a raw socket. */
export interface MalformedCase {
  name: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
  /** The protocol whose error shape the answer must have. */
  shape: Shape;
}

const user = [{ role: 'user', content: 'hi' }];

/** A valid body per route, for `model`. */
export function goodBodies(model: string): Record<string, Record<string, unknown>> {
  return {
    '/v1/chat/completions': { model, messages: user, max_tokens: 8 },
    '/v1/completions': { model, prompt: 'hi', max_tokens: 8 },
    '/v1/messages': { model, max_tokens: 8, messages: user },
    '/v1/messages/count_tokens': { model, messages: user },
  };
}
export const shapeOf = (path: string): Shape => (path.startsWith('/v1/messages') ? 'anthropic' : 'openai');

/** Values that are wrong for the field at hand (null is "absent" for optional fields, so not here). */
const WRONG: Record<string, unknown[]> = {
  model: [1, true, [], {}, ''],
  messages: [
    'hi',
    5,
    {},
    [],
    [1],
    [null],
    [{}],
    [{ role: 'user' }],
    [{ role: 'user', content: 7 }],
    [{ role: 'user', content: [{ type: 'text' }] }],
    [{ role: 'user', content: [{ type: 'image_url' }] }],
  ],
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
  // wrong for both endpoints: chat's logprobs is a boolean, completions' a count 0..20
  logprobs: ['yes', -1, 21, {}, []],
  top_logprobs: [-1, 21, 1.5, 'x'],
  echo: ['yes', 1],
};
const FIELDS: Record<string, string[]> = {
  '/v1/chat/completions': [
    'model',
    'messages',
    'max_tokens',
    'max_completion_tokens',
    'temperature',
    'top_p',
    'top_k',
    'min_p',
    'stream',
    'stop',
    'seed',
    'n',
    'tools',
    'tool_choice',
    'stream_options',
    'logprobs',
    'top_logprobs',
  ],
  '/v1/completions': ['model', 'prompt', 'max_tokens', 'temperature', 'top_p', 'stream', 'stop', 'seed', 'n', 'logprobs', 'echo'],
  '/v1/messages': ['model', 'messages', 'max_tokens', 'temperature', 'top_p', 'top_k', 'stream', 'stop_sequences', 'system', 'tools', 'tool_choice'],
  '/v1/messages/count_tokens': ['model', 'messages', 'system', 'tools'],
};
const REQUIRED: Record<string, string[]> = {
  '/v1/chat/completions': ['model', 'messages'],
  '/v1/completions': ['model', 'prompt'],
  '/v1/messages': ['model', 'messages', 'max_tokens'],
  '/v1/messages/count_tokens': ['model', 'messages'],
};

const JSON_TYPE = { 'content-type': 'application/json' };

/**
 * Every malformed request for the API serving `model` with a body limit of `maxBody` bytes: bad
 * JSON, wrong content types, oversized bodies, missing fields, wrong types and ranges field by
 * field, unknown model, invalid roles, wrong methods, unknown routes.
 */
export function malformedCases(model: string, maxBody: number): MalformedCase[] {
  const GOOD = goodBodies(model);
  const out: MalformedCase[] = [];
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (const [path, good] of Object.entries(GOOD)) {
    const shape = shapeOf(path);
    const add = (name: string, c: Omit<MalformedCase, 'name' | 'shape' | 'path'>) => out.push({ name: `${path} ${name}`, path, shape, ...c });
    const post = (body: string | Uint8Array<ArrayBuffer> | Record<string, unknown>, headers: Record<string, string> = {}) => ({
      method: 'POST',
      headers: { ...JSON_TYPE, ...headers },
      body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    });
    const text = JSON.stringify(good);
    // bad JSON: truncations, garbage, non-objects
    for (let i = 0; i < 6; i++) {
      const cut = 1 + rand(text.length - 2);
      add(`truncated at ${cut}`, post(text.slice(0, cut)));
    }
    for (const raw of ['', ' ', 'null', '[]', '42', '"text"', '{model:1}', "{'a':1}", '{"a":1,}', '\u0000\u0001', 'true'])
      add(`body ${JSON.stringify(raw)}`, post(raw));
    add('invalid UTF-8', post(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])));
    // wrong content types
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
      add(`content-type ${type}`, post(text, { 'content-type': type }));
    }
    // oversized
    add('oversized body', post({ ...good, pad: 'x'.repeat(maxBody) }));
    add('oversized declared length', post(text, { 'content-length': String(maxBody * 10) }));
    // missing required fields
    for (const field of REQUIRED[path]) add(`missing ${field}`, post({ ...good, [field]: undefined }));
    // wrong types and out-of-range values, field by field
    for (const field of FIELDS[path])
      for (const value of WRONG[field]) add(`${field}=${JSON.stringify(value)?.slice(0, 40)}`, post({ ...good, [field]: value }));
    // unknown model, invalid roles
    add('unknown model', post({ ...good, model: 'no-such-model' }));
    if (path !== '/v1/completions') {
      for (const role of ['wizard', 'System', 'function', '', 'ai']) add(`role ${role}`, post({ ...good, messages: [{ role, content: 'x' }] }));
    }
    // wrong methods
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) add(`method ${method}`, { method, headers: {}, ...(method === 'GET' ? {} : { body: text }) });
  }
  for (const path of ['/v1/chat', '/v1/embeddings', '/v2/chat/completions', '/', '/v1/messages/batches', '/v1/models/x/y']) {
    out.push({ name: `unknown route ${path}`, method: 'POST', path, headers: JSON_TYPE, body: '{}', shape: shapeOf(path) });
  }
  return out;
}

/** The case as a Fetch Request against `base` (an origin). */
export function toRequest(c: MalformedCase, base: string): Request {
  return new Request(`${base}${c.path}`, { method: c.method, headers: c.headers, body: c.body ?? null });
}

/** Whether `body` is an error in `shape`'s own format. */
export function isProtocolError(shape: Shape, body: any): boolean {
  return shape === 'openai'
    ? typeof body?.error?.message === 'string' && typeof body.error.type === 'string' && 'param' in body.error && 'code' in body.error
    : body?.type === 'error' && typeof body.error?.type === 'string' && typeof body.error.message === 'string';
}
