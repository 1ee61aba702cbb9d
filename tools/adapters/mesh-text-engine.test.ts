// Our Engine behind the TextEngine interface: the same tokens as calling the engine directly, chat
// prompts rendered with the model's template, abort and usage passed through.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../models/registry.ts';
import { Engine } from '../../src/engine/engine.ts';
import { MeshTextEngine } from './mesh-text-engine.ts';
import { collectText } from './text-engine.ts';

let engine: Engine;
let text: MeshTextEngine;
const PROMPT = 'Once upon a time, in a land far away';

beforeAll(async () => {
  engine = await Engine.load(await ensureModel('tiny-llama-f32'));
  text = new MeshTextEngine(engine, { id: 'tiny' });
});
afterAll(async () => {
  await text?.close();
});

describe('MeshTextEngine', () => {
  it('generates what the engine generates for the same text prompt', async () => {
    const direct: number[] = [];
    let directText = '';
    for await (const e of engine.generate({ promptTokens: engine.tokenize(PROMPT), maxTokens: 6, sampling: { temperature: 0 } })) {
      directText += e.text;
      if (e.type === 'token') direct.push(e.token);
    }
    const r = await collectText(text.generate({ prompt: { text: PROMPT }, maxTokens: 6, sampling: { temperature: 0 } }));
    expect(r.tokens).toEqual(direct);
    expect(r.text).toBe(directText);
    expect(r.done.usage).toEqual({ promptTokens: engine.tokenize(PROMPT).length, completionTokens: direct.length });
    expect(text.contextLength).toBe(engine.maxPositions);
  });

  it('renders chat prompts with the model template before tokenizing', () => {
    const tokens = text.promptTokens({ messages: [{ role: 'user', content: 'Hello there' }] });
    const rendered = engine.detokenize(tokens);
    expect(rendered).toContain('Hello there');
    expect(tokens.length).toBeGreaterThan(engine.tokenize('Hello there').length);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    let n = 0;
    const run = async () => {
      for await (const e of text.generate({ prompt: { text: PROMPT }, maxTokens: 50, sampling: { temperature: 0 }, signal: controller.signal })) {
        if (e.type === 'token' && ++n === 2) controller.abort();
      }
    };
    await expect(run()).rejects.toMatchObject({ name: 'AbortError' });
    expect(n).toBe(2);
  });
});
