// EngineProvider's speculative option through the API (tiny test model and its one-layer draft,
// reference kernels): the same text as plain decoding, repeated turns on kept sessions included, and
// drafted/accepted counts in usage.speculative (OpenAI and Anthropic, streamed and not) only then.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { createApiContext } from '../api/context.ts';
import { handleApiRequest } from '../api/handler.ts';
import { parseSse, post } from '../api/testing/requests.ts';
import { Engine } from '../engine/engine.ts';
import { EngineProvider } from './engine-provider.ts';

const MODEL = 'tiny-llama-f32';
let engine: Engine;
let draft: Engine;

beforeAll(async () => {
  engine = await Engine.load(await ensureModel(MODEL));
  draft = await Engine.load(await ensureModel('tiny-llama-draft-f32'));
});
afterAll(async () => {
  await engine?.close();
  await draft?.close();
});

const api = (provider: EngineProvider) => {
  const ctx = createApiContext({ provider });
  return async (path: string, body: unknown) => handleApiRequest(post(path, body), ctx);
};
const messages = [{ role: 'user', content: 'List the numbers: one two three one two three one two' }];

describe('EngineProvider with speculative decoding', () => {
  it.each(['ngram', 'model'] as const)('answers as plain decoding does, with usage.speculative (%s drafter)', async (drafter) => {
    const plain = api(new EngineProvider([{ id: MODEL, engine }]));
    const spec = api(new EngineProvider([{ id: MODEL, engine }], { speculative: { drafter, draftModel: draft, k: 4 } }));
    const body = { model: MODEL, messages, max_tokens: 20, temperature: 0, stop: ['zz'] };
    const want = await (await plain('/v1/chat/completions', body)).json();
    expect(want.usage.speculative).toBeUndefined();
    for (let turn = 0; turn < 2; turn++) {
      // the second turn reuses the session the first one kept
      const got = await (await spec('/v1/chat/completions', body)).json();
      expect(got.choices[0].message.content).toBe(want.choices[0].message.content);
      expect(got.usage.completion_tokens).toBe(want.usage.completion_tokens);
      expect(got.usage.speculative.accepted).toBeLessThanOrEqual(got.usage.speculative.drafted);
      if (drafter === 'model') expect(got.usage.speculative.drafted).toBeGreaterThan(0);
    }
    const stream = parseSse(await (await spec('/v1/chat/completions', { ...body, stream: true, stream_options: { include_usage: true } })).text());
    const last = JSON.parse(stream.at(-2)!.data);
    expect(last.usage.speculative).toMatchObject({ drafted: expect.any(Number), accepted: expect.any(Number) });

    const anthropic = { model: MODEL, messages, max_tokens: 20, temperature: 0 };
    const message = await (await spec('/v1/messages', anthropic)).json();
    expect(message.content[0].text).toBe(want.choices[0].message.content);
    expect(message.usage.speculative).toMatchObject({ drafted: expect.any(Number), accepted: expect.any(Number) });
    const events = parseSse(await (await spec('/v1/messages', { ...anthropic, stream: true })).text()).map((f) => JSON.parse(f.data));
    expect(events.find((e) => e.type === 'message_delta').usage.speculative).toBeDefined();
  });

  it('refuses a draft model of another vocabulary, or none', async () => {
    const other = await Engine.load(await ensureModel('tiny-qwen2-f16'));
    try {
      expect(() => new EngineProvider([{ id: MODEL, engine }], { speculative: { drafter: 'model', draftModel: other } })).toThrow(/vocabulary/);
      expect(() => new EngineProvider([{ id: MODEL, engine }], { speculative: { drafter: 'model' } })).toThrow(/draftModel/);
      expect(() => new EngineProvider([{ id: MODEL, engine }], { speculative: { drafter: 'ngram', k: 0 } })).toThrow(/1\.\.16/);
    } finally {
      await other.close();
    }
  });
});
