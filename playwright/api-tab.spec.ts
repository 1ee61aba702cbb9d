// A headless Chromium tab serves a model to the companion: the real `npm start` stack runs with
// --skip-model (it serves nothing itself), the page loads tiny-llama-q8_0 into an in-page Engine
// and attaches over /attach, and the official OpenAI and Anthropic SDKs in this process call the
// companion's API: the answers equal a Node engine's greedy text for the same request, usage equals
// the tokenizer's counts, an abort stops the tab's generation, and closing the tab mid-request gives
// a clean protocol-shaped error.
import Anthropic from '@anthropic-ai/sdk';
import { expect, test, type Page } from '@playwright/test';
import OpenAI from 'openai';
import { ensureModel } from '../tools/models/registry.ts';
import { Engine } from '../src/engine/engine.ts';
import { chatTemplateFor } from '../src/tokenizer/index.ts';
import { startEngineTestServer, type EngineTestServer } from './support/engine-server.ts';
import { startStack, type Stack } from './support/stack.ts';

const MODEL = 'tiny-llama-q8_0';
let app: EngineTestServer;
let stack: Stack;
let engine: Engine;
let openai: OpenAI;
let anthropic: Anthropic;

test.describe.configure({ mode: 'serial', timeout: 60_000 });

test.beforeAll(async () => {
  // The page's origin plays the app: Vite serves the TypeScript and /models/; the companion allows it.
  [app, engine] = await Promise.all([startEngineTestServer(false), ensureModel(MODEL).then((p) => Engine.load(p, { backend: 'cpu' }))]);
  stack = await startStack({ args: ['--skip-model', '--skip-build', '--cors-origin', app.base] });
  openai = new OpenAI({ baseURL: `${stack.urls.api}/v1`, apiKey: 'not-needed', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: stack.urls.api, apiKey: 'not-needed', maxRetries: 0 });
});

test.afterAll(async () => {
  await stack?.stop();
  await app?.close();
  await engine?.close();
});

/** Opens the test page and attaches it to the companion, serving the model under `id`. */
async function attachTab(page: Page, name: string, id = MODEL): Promise<string> {
  await page.goto(`${app.base}/playwright/support/tab-serve.html`);
  return page.evaluate(
    async ({ api, name, id, model }) => {
      const path = '/src/client/tab-serve.ts'; // a variable: Vite serves it at run time
      const { startTabServe } = await import(path);
      const tab = await startTabServe({ api, name, models: [{ id, source: `/models/${model}.gguf` }], backend: 'cpu' });
      (window as unknown as { tab: unknown }).tab = tab;
      return tab.peer as string;
    },
    { api: stack.urls.api, name, id, model: MODEL },
  );
}

type Log = { id: string; model: string; maxTokens: number; produced: number; state: string };
const tabRequests = (page: Page): Promise<Log[]> =>
  page.evaluate(() => (window as unknown as { tab: { requests: Log[] } }).tab.requests.map((r) => ({ ...r })));

/** The Node engine's greedy answer for a chat: text without the end-of-generation token, and token counts. */
async function greedy(messages: { role: string; content: string }[], maxTokens: number): Promise<{ text: string; prompt: number; completion: number }> {
  const tokenizer = engine.tokenizer;
  const template = chatTemplateFor(engine.model.header.metadata, tokenizer);
  const promptTokens = tokenizer.tokenize(template.render(messages, { addGenerationPrompt: true }), { addSpecial: true, parseSpecial: true });
  let text = '';
  let completion = 0;
  for await (const e of engine.generate({ promptTokens, maxTokens, sampling: { temperature: 0 } })) {
    text += e.text;
    if (e.type === 'done') completion = e.usage.completionTokens;
  }
  return { text, prompt: promptTokens.length, completion };
}

const chat = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Describe the sea.' },
];

test("a Chromium tab serves the companion's API: SDK answers equal the engine's greedy text", async ({ page }) => {
  // nothing is served before the tab attaches
  await expect(openai.chat.completions.create({ model: MODEL, messages: chat, max_tokens: 4 })).rejects.toMatchObject({ status: 503 });
  expect(await attachTab(page, 'chromium')).toBe('tab-chromium');

  const listed = [];
  for await (const m of openai.models.list()) listed.push(m);
  expect(listed).toEqual([expect.objectContaining({ id: MODEL, owned_by: 'tab-chromium' })]);

  const want = await greedy(chat, 16);
  expect(want.completion).toBeGreaterThan(3);
  const { data, response } = await openai.chat.completions.create({ model: MODEL, messages: chat, max_tokens: 16, temperature: 0 }).withResponse();
  expect(data.choices[0].message.content).toBe(want.text);
  expect(data.usage).toEqual({ prompt_tokens: want.prompt, completion_tokens: want.completion, total_tokens: want.prompt + want.completion });
  expect(response.headers.get('x-mesh-served-by')).toBe('tab-chromium;layers=0-2');

  let streamed = '';
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const c of await openai.chat.completions.create({
    model: MODEL,
    messages: chat,
    max_tokens: 16,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  })) {
    streamed += c.choices[0]?.delta.content ?? '';
    usage = c.usage ?? usage;
  }
  expect(streamed).toBe(want.text);
  expect(usage).toMatchObject({ prompt_tokens: want.prompt, completion_tokens: want.completion });

  const user = [{ role: 'user' as const, content: 'Name three colours.' }];
  const wantA = await greedy(user, 12);
  const params = { model: MODEL, max_tokens: 12, temperature: 0, messages: user }; // temperature: the SDK's types dropped it, the API takes it
  const message = await anthropic.messages.create(params);
  expect(message.content).toEqual([{ type: 'text', text: wantA.text }]);
  expect(message.usage).toMatchObject({ input_tokens: wantA.prompt, output_tokens: wantA.completion });
  const final = await anthropic.messages.stream(params).finalMessage();
  expect(final.content).toEqual([{ type: 'text', text: wantA.text }]);

  // abort mid-stream: the tab's generation stops long before max_tokens
  const stream = await openai.chat.completions.create({ model: MODEL, messages: chat, max_tokens: 300, temperature: 0, stream: true });
  let n = 0;
  for await (const _ of stream)
    if (++n === 3) {
      stream.controller.abort();
      break;
    }
  await expect.poll(async () => (await tabRequests(page)).at(-1)!.state).toBe('aborted');
  const aborted = (await tabRequests(page)).at(-1)!;
  expect(aborted.maxTokens).toBe(300);
  // The tab runs at most 4 tokens ahead of what the companion has read, but the companion reads
  // ahead of the client into socket buffers: on a loaded machine that was seen at 26. Without the
  // abort it would run to 300.
  expect(aborted.produced).toBeLessThan(60);
});

test('closing the tab mid-request gives the client a clean error, and nothing hangs', async ({ context }) => {
  const leaving = await context.newPage();
  expect(await attachTab(leaving, 'leaving', 'tiny-leaving')).toBe('tab-leaving');
  const stream = await openai.chat.completions.create({ model: 'tiny-leaving', messages: chat, max_tokens: 400, temperature: 0, stream: true });
  let n = 0;
  let failure: unknown = null;
  try {
    for await (const _ of stream) if (++n === 2) await leaving.close();
  } catch (e) {
    failure = e;
  }
  expect(failure).toBeInstanceOf(OpenAI.APIError);
  expect((failure as Error).message).toMatch(/left mid-request/);
  expect(n).toBeLessThan(400);

  // non-streaming, with the Anthropic SDK: the model is gone, a 404 in Anthropic's shape
  const gone = await anthropic.messages.create({ model: 'tiny-leaving', max_tokens: 4, messages: chat.slice(1) }).catch((e: unknown) => e);
  expect(gone).toBeInstanceOf(Anthropic.APIError);
  expect(gone).toMatchObject({
    status: expect.any(Number),
    error: { type: 'error', error: { type: expect.stringMatching(/not_found_error|overloaded_error/) } },
  });
});
