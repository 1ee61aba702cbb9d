// The API over a real engine (tiny test model, reference kernels): the SDKs get exactly the text the
// engine generates greedily, usage matches, and concurrent streams each match their solo run.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../../tools/models/registry.ts';
import { Engine } from '../engine/engine.ts';
import { chatTemplateFor } from '../tokenizer/index.ts';
import { createApiContext } from '../api/context.ts';
import { EngineProvider } from './engine-provider.ts';
import { nodeApiHandler } from '../api/node-adapter.ts';

const MODEL = 'tiny-llama-f32';
let engine: Engine;
let server: Server;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  engine = await Engine.load(await ensureModel(MODEL), { split: '0:1,1:2' });
  const provider = new EngineProvider([{ id: MODEL, engine, peer: 'companion' }]);
  server = createServer(nodeApiHandler(createApiContext({ provider, queue: { concurrency: 2 } })));
  // Longer than the SDK's own idle timeout: a socket the client reuses is never one the server is closing
  // (that race shows as ECONNRESET when long engine runs here stall the event loop).
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  openai = new OpenAI({ baseURL: `${origin}/v1`, apiKey: 'x', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: origin, apiKey: 'x', maxRetries: 0 });
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await engine?.close();
});

/** What the engine itself generates greedily for this conversation (no API involved). */
async function direct(messages: { role: string; content: string }[], maxTokens: number): Promise<{ text: string; prompt: number; completion: number }> {
  const template = chatTemplateFor(engine.model.header.metadata, engine.tokenizer);
  const promptTokens = engine.tokenizer.tokenize(template.render(messages), { parseSpecial: true });
  let text = '';
  let completion = 0;
  for await (const e of engine.generate({ promptTokens, maxTokens, sampling: { temperature: 0 } })) {
    if (e.type === 'token') text += e.text;
    else {
      text += e.text;
      completion = e.usage.completionTokens;
    }
  }
  return { text, prompt: promptTokens.length, completion };
}

describe('API over the engine', () => {
  const messages = [{ role: 'user' as const, content: 'Hello, who are you?' }];

  it("gives the OpenAI SDK the engine's greedy text and usage, naming both stages", async () => {
    const want = await direct(messages, 12);
    expect(want.completion).toBe(12); // a real reply, not an immediate end of generation
    const { data, response } = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 12, temperature: 0 }).withResponse();
    expect(data.choices[0].message.content).toBe(want.text);
    expect(data.usage).toMatchObject({ prompt_tokens: want.prompt, completion_tokens: want.completion });
    expect(response.headers.get('x-mesh-served-by')).toBe('companion;layers=0-1, companion;layers=1-2');
  });

  it('streams the same text to the Anthropic SDK', async () => {
    const want = await direct(messages, 10);
    const final = await anthropic.messages.stream({ model: MODEL, max_tokens: 10, temperature: 0, messages }).finalMessage();
    expect(final.content).toEqual([{ type: 'text', text: want.text }]);
    expect(final.usage.output_tokens).toBe(want.completion);
  });

  it('serves 8 concurrent streams, each with its solo text', async () => {
    const prompts = Array.from({ length: 8 }, (_, i) => [{ role: 'user' as const, content: `Count to ${i + 1}.` }]);
    const solo = [];
    for (const p of prompts) solo.push((await direct(p, 8)).text);
    const together = await Promise.all(
      prompts.map(async (p) => {
        let out = '';
        for await (const c of await openai.chat.completions.create({ model: MODEL, messages: p, max_tokens: 8, temperature: 0, stream: true }))
          out += c.choices[0]?.delta.content ?? '';
        return out;
      }),
    );
    expect(together).toEqual(solo);
  }, 60_000); // reference kernels: several seconds on a busy 2-core machine
});
