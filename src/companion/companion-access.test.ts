// Who may use the companion's API: a bearer token on a non-loopback bind (generated when none is
// given), refused requests answered with 401 in each SDK's own error shape; and a full queue
// answered with 429 and Retry-After instead of piling up.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPANION_TEST_MODEL as MODEL, startTestCompanion, type TestCompanion } from './testing/companion.ts';

const user = [{ role: 'user' as const, content: 'Hi' }];

describe('companion bound to 0.0.0.0', () => {
  let t: TestCompanion;
  let base: string;
  beforeAll(async () => {
    t = await startTestCompanion({ host: '0.0.0.0' });
    // reached through loopback, as a client on this machine would; the bind itself is what asks for a token
    base = `http://127.0.0.1:${new URL(t.companion.urls.api).port}`;
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('makes up a token when none was given', () => {
    expect(t.companion.apiTokenGenerated).toBe(true);
    expect(t.companion.apiToken).toMatch(/^mesh-[\w-]{40,}$/);
  });

  it('refuses requests without the token, or with a wrong one, with 401 in each protocol', async () => {
    const none = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: user }),
    });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await none.json()).toEqual({
      error: { message: expect.stringContaining('Authorization: Bearer'), type: 'authentication_error', param: null, code: 'missing_api_key' },
    });

    const wrongOpenAi = await new OpenAI({ baseURL: `${base}/v1`, apiKey: 'not-the-token', maxRetries: 0 }).chat.completions
      .create({ model: MODEL, messages: user })
      .catch((e: unknown) => e);
    expect(wrongOpenAi).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((wrongOpenAi as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('invalid_api_key');

    const wrongAnthropic = await new Anthropic({ baseURL: base, apiKey: 'not-the-token', maxRetries: 0 }).messages
      .create({ model: MODEL, max_tokens: 2, messages: user })
      .catch((e: unknown) => e);
    expect(wrongAnthropic).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((wrongAnthropic as InstanceType<typeof Anthropic.AuthenticationError>).error).toMatchObject({
      type: 'error',
      error: { type: 'authentication_error' },
    });

    const models = await fetch(`${base}/v1/models`);
    expect(models.status).toBe(401);
    await models.body?.cancel();
  });

  it('serves both SDKs that send the token (Bearer or x-api-key); /health asks for it too off loopback', async () => {
    const token = t.companion.apiToken!;
    const chat = await new OpenAI({ baseURL: `${base}/v1`, apiKey: token, maxRetries: 0 }).chat.completions.create({
      model: MODEL,
      messages: user,
      max_tokens: 2,
    });
    expect(chat.usage?.completion_tokens).toBeGreaterThan(0);
    const msg = await new Anthropic({ baseURL: base, apiKey: token, maxRetries: 0 }).messages.create({ model: MODEL, max_tokens: 2, messages: user });
    expect(msg.usage.output_tokens).toBeGreaterThan(0);
    const viaBearer = await new Anthropic({ baseURL: base, authToken: token, apiKey: null, maxRetries: 0 }).messages.create({
      model: MODEL,
      max_tokens: 2,
      messages: user,
    });
    expect(viaBearer.type).toBe('message');
    expect((await fetch(`${base}/health`)).status).toBe(401);
    expect((await fetch(`${base}/health`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });
});

describe('companion on loopback', () => {
  let t: TestCompanion;
  beforeAll(async () => {
    t = await startTestCompanion({ apiToken: 'a-chosen-secret' }, { api: { queue: { concurrency: 1, maxQueued: 1, retryAfterSeconds: 3 } } });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('needs no token by default, but requires one that was given explicitly', async () => {
    const open = await startTestCompanion();
    try {
      expect(open.companion.apiToken).toBeNull();
      expect((await fetch(`${open.companion.urls.api}/v1/models`)).status).toBe(200);
    } finally {
      await open.stop();
    }
    expect(t.companion.apiTokenGenerated).toBe(false);
    expect((await fetch(`${t.companion.urls.api}/v1/models`)).status).toBe(401);
    expect((await fetch(`${t.companion.urls.api}/v1/models`, { headers: { authorization: 'Bearer a-chosen-secret' } })).status).toBe(200);
  });

  it('answers 429 with Retry-After once the queue is full, and serves the others', async () => {
    const openai = new OpenAI({ baseURL: `${t.companion.urls.api}/v1`, apiKey: 'a-chosen-secret', maxRetries: 0 });
    const ask = () =>
      openai.chat.completions.create({ model: MODEL, messages: user, max_tokens: 100 }).then(
        (r) => ({ ok: true as const, r }),
        (e: unknown) => ({ ok: false as const, e }),
      );
    const results = await Promise.all([0, 1, 2].map(ask));
    const refused = results.filter((x) => !x.ok);
    expect(results.filter((x) => x.ok)).toHaveLength(2); // one running, one waiting
    expect(refused).toHaveLength(1);
    const e = (refused[0] as { e: InstanceType<typeof OpenAI.RateLimitError> }).e;
    expect(e).toBeInstanceOf(OpenAI.RateLimitError);
    expect(e.headers?.get('retry-after')).toBe('3');
  });
});
