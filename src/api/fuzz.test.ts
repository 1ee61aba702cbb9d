// Malformed requests of every kind the issue lists (bad JSON, wrong types, missing fields, oversized
// bodies, unknown model, negative or huge max_tokens, invalid roles, wrong content types): each must
// get a 4xx in the right protocol's shape, and the API must still serve correctly afterwards.
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { createApiContext, type ApiContext } from './context.ts';
import { handleApiRequest } from './handler.ts';
import { goodBodies, isProtocolError, malformedCases, toRequest } from './testing/fuzz-cases.ts';
import { BASE, parseSse, post } from './testing/requests.ts';
import { loadModelText, ScriptedProvider, TEST_MODEL } from './testing/scripted-provider.ts';

const MAX_BODY = 16 * 1024;

let ctx: ApiContext;
let provider: ScriptedProvider;
beforeAll(async () => {
  provider = new ScriptedProvider({ text: await loadModelText(await ensureModel(TEST_MODEL)), reply: 'All good here.', contextLength: 512 });
  ctx = createApiContext({ provider, maxBodyBytes: MAX_BODY });
});

const GOOD = goodBodies(TEST_MODEL);

describe('fuzzing with malformed requests', () => {
  const all = malformedCases(TEST_MODEL, MAX_BODY);
  it('has at least 200 of them', () => {
    expect(all.length).toBeGreaterThanOrEqual(200);
  });

  it('answers each with a 4xx in its protocol shape, then still serves correctly', async () => {
    const failures: string[] = [];
    for (const c of all) {
      const res = await handleApiRequest(toRequest(c, BASE), ctx);
      const body = await res.json().catch(() => undefined);
      const ok = res.status >= 400 && res.status < 500 && isProtocolError(c.shape, body);
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
