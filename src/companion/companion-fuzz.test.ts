// Malformed requests against the companion's real HTTP port (the API's fuzz cases plus a few only a
// socket can send): each gets a 4xx in its protocol's shape, and afterwards the engine still serves.
import { request as httpRequest } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isProtocolError, malformedCases, type MalformedCase } from '../api/testing/fuzz-cases.ts';
import { COMPANION_TEST_MODEL as MODEL, greedyChat, startTestCompanion, type TestCompanion } from './testing/companion.ts';

const MAX_BODY = 32 * 1024;
let t: TestCompanion;
beforeAll(async () => {
  t = await startTestCompanion({}, { api: { maxBodyBytes: MAX_BODY } });
});
afterAll(async () => {
  await t?.stop();
});

/** Sends exactly these bytes and headers (a lying Content-Length included) on a fresh connection. */
function send(api: string, c: MalformedCase): Promise<{ status: number; text: string }> {
  const url = new URL(api);
  const headers = { ...c.headers };
  // Node sends a DELETE body without framing unless told its length; every body here is framed
  if (c.body !== undefined && !headers['content-length'] && !headers['transfer-encoding']) headers['content-length'] = String(Buffer.byteLength(c.body));
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path: c.path, method: c.method, headers, agent: false }, (res) => {
      let text = '';
      res
        .setEncoding('utf8')
        .on('data', (d: string) => (text += d))
        .on('end', () => {
          resolve({ status: res.statusCode ?? 0, text });
          req.destroy();
        });
    });
    req.on('error', reject);
    if (c.body !== undefined) req.write(c.body);
    // a declared length longer than the body: the server must answer from the header alone
    if (!c.headers['content-length']) req.end();
  });
}

/** Requests a Fetch client cannot make: raw paths with broken percent-encoding and odd query strings. */
function socketOnlyCases(): MalformedCase[] {
  const json = { 'content-type': 'application/json' };
  return [
    { name: 'bad percent-encoding in a model id', method: 'GET', path: '/v1/models/%E0%A4%A', headers: {}, shape: 'openai' },
    { name: 'bad percent-encoding, anthropic', method: 'GET', path: '/v1/models/%ZZ', headers: { 'anthropic-version': '2023-06-01' }, shape: 'anthropic' },
    { name: 'double slash route', method: 'POST', path: '/v1//chat/completions', headers: json, body: '{}', shape: 'openai' },
    { name: 'query string junk', method: 'POST', path: '/v1/messages?%%%', headers: json, body: '{', shape: 'anthropic' },
    { name: 'no content type', method: 'POST', path: '/v1/messages', headers: {}, body: 'model=x', shape: 'anthropic' },
    {
      name: 'chunked garbage',
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { ...json, 'transfer-encoding': 'chunked' },
      body: '\u0000'.repeat(100),
      shape: 'openai',
    },
  ];
}

describe('fuzzing the companion over HTTP', () => {
  it('answers at least 200 malformed requests with a 4xx in their protocol shape, then still serves', async () => {
    const cases = [...malformedCases(MODEL, MAX_BODY), ...socketOnlyCases()];
    expect(cases.length).toBeGreaterThanOrEqual(200);
    const failures: string[] = [];
    for (const c of cases) {
      const { status, text } = await send(t.companion.urls.api, c);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      if (!(status >= 400 && status < 500 && isProtocolError(c.shape, body))) failures.push(`${c.name}: ${status} ${text.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
    expect(t.provider.calls).toHaveLength(0); // nothing malformed reached the engine

    const want = await greedyChat(t, [{ role: 'user', content: 'Still there?' }], 6);
    const openai = new OpenAI({ baseURL: `${t.companion.urls.api}/v1`, apiKey: 'x', maxRetries: 0 });
    const stream = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Still there?' }],
      max_tokens: 6,
      temperature: 0,
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(want.text);
  }, 60_000);
});
