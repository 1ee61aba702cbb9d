// npm start's default model (the trained kjv-llama-16m-q8_0) answers a chat in words: its chat
// template makes each message a verse, so a greedy reply to a question or a sentence is the verse that
// follows, not an immediate end of text (the first template, plain text, answered most sentences that
// end in a full stop or a question mark with nothing).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { DEFAULT_MODEL } from '../companion/config.ts';
import { Engine } from '../engine/engine.ts';
import { EngineProvider } from '../provider/engine-provider.ts';
import { createApiContext, type ApiContext } from './context.ts';
import { handleApiRequest } from './handler.ts';
import { post } from './testing/requests.ts';

const QUESTIONS = ['Who made the heaven and the earth?', 'Tell me about the king of Israel.', 'Hi', 'What is love?', 'Where is the promised land?'];

describe('the default model in a chat', () => {
  let engine: Engine;
  let ctx: ApiContext;
  beforeAll(async () => {
    engine = await Engine.load(await ensureModel(DEFAULT_MODEL), { backend: 'cpu' });
    ctx = createApiContext({ provider: new EngineProvider([{ id: DEFAULT_MODEL, engine }]) });
  });
  afterAll(() => engine?.close());

  it('answers every question with words, greedy and sampled', async () => {
    for (const content of QUESTIONS) {
      for (const temperature of [0, 1]) {
        const res = await handleApiRequest(
          post('/v1/chat/completions', { model: DEFAULT_MODEL, messages: [{ role: 'user', content }], max_tokens: 32, temperature, seed: 7 }),
          ctx,
        );
        expect(res.status).toBe(200);
        const body = (await res.json()) as { choices: { message: { content: string } }[]; usage: { completion_tokens: number } };
        const answer = body.choices[0].message.content;
        console.log(`${JSON.stringify(content)} (temperature ${temperature}) -> ${JSON.stringify(answer)}`);
        // At least three words of letters.
        expect(answer.match(/[A-Za-z]+/g)?.length ?? 0, `${content} -> ${JSON.stringify(answer)}`).toBeGreaterThanOrEqual(3);
      }
    }
  }, 120_000);
});
