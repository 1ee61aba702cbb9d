// Issue 4 from a page, with the official SDKs: the unmodified `openai` and `@anthropic-ai/sdk`
// clients run inside a page of the app's origin that the service worker controls, pointed at that
// same origin, so every call is a page fetch('/v1/…') answered by the worker (x-mesh-via says so),
// which forwards to the companion's API of the real `npm start` stack. Answers equal a Node engine's
// greedy output for the same request, usage equals the tokenizer's counts, stop sequences and max
// tokens end the answer as they should, an SDK abort ends a stream mid-way, and bad requests raise the
// SDKs' typed errors.
import { expect, test, type Page } from '@playwright/test';
import { Engine } from '../src/engine/engine.ts';
import { chatTemplateFor } from '../src/tokenizer/index.ts';
import { ensureModel } from '../tools/models/registry.ts';
import { addSdks, sdkBundle } from './support/sdk-page.ts';
import { startStack, type Stack } from './support/stack.ts';

const MODEL = 'tiny-llama-q8_0';
const VIA = 'service-worker; companion';
let stack: Stack | undefined;
let engine: Engine | undefined;

test.describe.configure({ mode: 'serial', timeout: 90_000 });

test.beforeAll(async () => {
  // All settled before any failure is thrown, so afterAll stops whatever did start.
  const started = await Promise.allSettled([
    startStack().then((s) => (stack = s)),
    ensureModel(MODEL)
      .then((p) => Engine.load(p, { backend: 'cpu' }))
      .then((e) => (engine = e)),
    sdkBundle(),
  ]);
  for (const s of started) if (s.status === 'rejected') throw s.reason;
});
test.afterAll(async () => {
  await stack?.stop();
  await engine?.close();
});
test.afterEach(async ({}, testInfo) => {
  if (stack && testInfo.status !== testInfo.expectedStatus) await testInfo.attach('npm-start.log', { body: stack.log(), contentType: 'text/plain' });
});

/** The app's page, controlled by its service worker, with the SDKs loaded into it. */
async function sdkPage(page: Page): Promise<void> {
  await page.goto(stack!.urls.app);
  // meshApp appears once the app's (lazily loaded) script has run; until then there is nothing to ask.
  await page.waitForFunction(() => typeof window.meshApp?.serviceWorker === 'function');
  await expect.poll(() => page.evaluate(() => window.meshApp.serviceWorker()), { timeout: 30_000 }).toMatchObject({ state: 'active', controlled: true });
  await addSdks(page);
  // (the controller may still be 'activating' when clients.claim() hands it this page: fetches wait for it)
  expect(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
}

type Message = { role: 'system' | 'user' | 'assistant'; content: string };
type Greedy = { text: string; prompt: number; completion: number; eog: boolean };

/** The Node engine's greedy answer: text without the end-of-generation token, and the tokenizer's counts. */
async function greedy(messages: Message[], maxTokens: number): Promise<Greedy> {
  if (!engine) throw new Error('the Node engine did not load (see beforeAll)');
  const template = chatTemplateFor(engine.model.header.metadata, engine.tokenizer);
  const promptTokens = engine.tokenizer.tokenize(template.render(messages, { addGenerationPrompt: true }), { addSpecial: true, parseSpecial: true });
  let text = '';
  let completion = 0;
  let eog = false;
  for await (const e of engine.generate({ promptTokens, maxTokens, sampling: { temperature: 0 } })) {
    text += e.text;
    if (e.type === 'done') [completion, eog] = [e.usage.completionTokens, e.finishReason === 'stop'];
  }
  return { text, prompt: promptTokens.length, completion, eog };
}

/** A stop string that first occurs well inside `text`, and the text before it. */
function stopInside(text: string): { stop: string; before: string } {
  for (let at = Math.floor(text.length / 3); at < text.length - 3; at++) {
    const stop = text.slice(at, at + 3);
    if (stop.trim().length === 3 && text.indexOf(stop) === at) return { stop, before: text.slice(0, at) };
  }
  throw new Error(`no usable stop string in ${JSON.stringify(text)}`);
}

const chat: Message[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Describe the sea.' },
];

test('the OpenAI SDK in a controlled page: completions, streams, stop, max tokens, abort, errors', async ({ page }) => {
  const [want, long, short] = [await greedy(chat, 16), await greedy(chat, 32), await greedy(chat, 5)];
  expect(want.completion).toBeGreaterThan(3);
  expect(short.completion).toBe(5);
  const { stop, before } = stopInside(long.text);
  await sdkPage(page);

  const got = await page.evaluate(
    async ({ model, chat, stop }) => {
      const openai = new window.MeshSdks.OpenAI({ baseURL: `${location.origin}/v1`, apiKey: 'not-needed', maxRetries: 0, dangerouslyAllowBrowser: true });
      const plain = await openai.chat.completions.create({ model, messages: chat, max_tokens: 16, temperature: 0 }).withResponse();

      const streamed = await openai.chat.completions
        .create({ model, messages: chat, max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true } })
        .withResponse();
      let text = '';
      let usage = null;
      let finish = null;
      let chunks = 0;
      for await (const chunk of streamed.data) {
        chunks++;
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        usage = chunk.usage ?? usage;
      }

      const stopped = await openai.chat.completions.create({ model, messages: chat, max_tokens: 32, temperature: 0, stop: [stop] });
      const cut = await openai.chat.completions.create({ model, messages: chat, max_completion_tokens: 5, temperature: 0 });

      // An abort through the SDK's own controller, four chunks into a long stream, reading on: the
      // stream must end there (quietly, or with the SDK's abort error), not run on to its 1500 tokens.
      const long = await openai.chat.completions.create({ model, messages: chat, max_tokens: 1500, temperature: 0, stream: true });
      let read = 0;
      let ended = 'quietly';
      try {
        for await (const _ of long) if (++read === 4) long.controller.abort();
      } catch (e) {
        ended = e instanceof window.MeshSdks.OpenAI.APIUserAbortError ? 'quietly' : String(e);
      }
      const next = await openai.chat.completions.create({ model, messages: chat, max_tokens: 2, temperature: 0 });

      const errors = [];
      for (const body of [
        { model, messages: [] },
        { model, messages: chat, max_tokens: 10_000_000 },
        { model: 'gpt-nope', messages: chat },
      ]) {
        const e = await openai.chat.completions.create(body).catch((e: unknown) => e);
        const typed = e as InstanceType<typeof window.MeshSdks.OpenAI.APIError>;
        errors.push({
          badRequest: e instanceof window.MeshSdks.OpenAI.BadRequestError,
          notFound: e instanceof window.MeshSdks.OpenAI.NotFoundError,
          status: typed.status,
          param: typed.param,
          type: typed.type,
          via: typed.headers?.get('x-mesh-via'),
        });
      }
      return {
        plain: {
          message: plain.data.choices[0].message,
          finish: plain.data.choices[0].finish_reason,
          usage: plain.data.usage,
          via: plain.response.headers.get('x-mesh-via'),
        },
        streamed: { text, usage, finish, chunks, via: streamed.response.headers.get('x-mesh-via') },
        stopped: { content: stopped.choices[0].message.content, finish: stopped.choices[0].finish_reason },
        cut: { content: cut.choices[0].message.content, finish: cut.choices[0].finish_reason, completion: cut.usage?.completion_tokens },
        abort: { read, ended, nextFinish: next.choices[0].finish_reason },
        errors,
      };
    },
    { model: MODEL, chat, stop },
  );

  const usage = { prompt_tokens: want.prompt, completion_tokens: want.completion, total_tokens: want.prompt + want.completion };
  expect(got.plain).toMatchObject({ message: { role: 'assistant', content: want.text }, finish: want.eog ? 'stop' : 'length', usage, via: VIA });
  expect(got.streamed).toMatchObject({ text: want.text, finish: want.eog ? 'stop' : 'length', usage, via: VIA });
  expect(got.streamed.chunks).toBeGreaterThan(3);
  expect(got.stopped).toEqual({ content: before, finish: 'stop' });
  expect(got.cut).toEqual({ content: short.text, finish: 'length', completion: 5 });
  // the stream ended at the abort, and the companion's queue was free again for the next request
  expect(got.abort).toEqual({ read: expect.any(Number), ended: 'quietly', nextFinish: 'length' });
  // Events already buffered in the page when the abort lands still arrive (seen up to ~13 on a busy
  // machine); without the abort the stream runs on to its 1500 tokens.
  expect(got.abort.read).toBeLessThan(40);
  expect(got.errors).toEqual([
    { badRequest: true, notFound: false, status: 400, param: 'messages', type: 'invalid_request_error', via: VIA },
    { badRequest: true, notFound: false, status: 400, param: expect.stringMatching(/max_tokens/), type: 'invalid_request_error', via: VIA },
    { badRequest: false, notFound: true, status: 404, param: expect.anything(), type: 'invalid_request_error', via: VIA },
  ]);
});

test('the Anthropic SDK in a controlled page: messages, streams, stop sequences, max tokens, abort, errors', async ({ page }) => {
  const user: Message[] = [{ role: 'user', content: 'Describe the sea.' }];
  const [want, long, short] = [await greedy(chat, 16), await greedy(chat, 32), await greedy(chat, 5)];
  const { stop, before } = stopInside(long.text);
  await sdkPage(page);

  const got = await page.evaluate(
    async ({ model, user, stop }) => {
      const anthropic = new window.MeshSdks.Anthropic({ baseURL: location.origin, apiKey: 'not-needed', maxRetries: 0, dangerouslyAllowBrowser: true });
      const params = { model, max_tokens: 16, temperature: 0, system: 'You are terse.', messages: user };
      const plain = await anthropic.messages.create(params).withResponse();

      // The SDK's streaming helper, and the raw event stream.
      const helper = anthropic.messages.stream(params);
      let helperText = '';
      helper.on('text', (t) => {
        helperText += t;
      });
      const final = await helper.finalMessage();
      const raw = await anthropic.messages.create({ ...params, stream: true }).withResponse();
      const events: string[] = [];
      let rawText = '';
      for await (const e of raw.data) {
        events.push(e.type);
        if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') rawText += e.delta.text;
      }

      const stopped = await anthropic.messages.create({ ...params, max_tokens: 32, stop_sequences: [stop] });
      const cut = await anthropic.messages.create({ ...params, max_tokens: 5 });
      const counted = await anthropic.messages.countTokens({ model, system: params.system, messages: user });

      const long = await anthropic.messages.create({ ...params, max_tokens: 1500, stream: true });
      let read = 0;
      let ended = 'quietly';
      try {
        for await (const _ of long) if (++read === 6) long.controller.abort();
      } catch (e) {
        ended = e instanceof window.MeshSdks.Anthropic.APIUserAbortError ? 'quietly' : String(e);
      }
      const next = await anthropic.messages.create({ ...params, max_tokens: 2 });

      const errors = [];
      for (const body of [
        { ...params, max_tokens: -1 },
        { ...params, messages: [] },
        { ...params, model: 'claude-nope' },
      ]) {
        const e = await anthropic.messages.create(body).catch((e: unknown) => e);
        const typed = e as InstanceType<typeof window.MeshSdks.Anthropic.APIError>;
        errors.push({
          badRequest: e instanceof window.MeshSdks.Anthropic.BadRequestError,
          notFound: e instanceof window.MeshSdks.Anthropic.NotFoundError,
          status: typed.status,
          type: (typed.error as { error?: { type?: string } } | undefined)?.error?.type,
          via: typed.headers?.get('x-mesh-via'),
        });
      }
      return {
        plain: { content: plain.data.content, stop: plain.data.stop_reason, usage: plain.data.usage, via: plain.response.headers.get('x-mesh-via') },
        helper: { text: helperText, usage: final.usage, stop: final.stop_reason },
        raw: { text: rawText, events, via: raw.response.headers.get('x-mesh-via') },
        stopped: { stop: stopped.stop_reason, sequence: stopped.stop_sequence, content: stopped.content },
        cut: { stop: cut.stop_reason, content: cut.content, output: cut.usage.output_tokens },
        counted,
        abort: { read, ended, next: next.stop_reason },
        errors,
      };
    },
    { model: MODEL, user, stop },
  );

  const usage = { input_tokens: want.prompt, output_tokens: want.completion };
  const stopReason = want.eog ? 'end_turn' : 'max_tokens';
  expect(got.plain).toMatchObject({ content: [{ type: 'text', text: want.text }], stop: stopReason, usage, via: VIA });
  expect(got.helper).toMatchObject({ text: want.text, usage, stop: stopReason });
  expect(got.raw).toMatchObject({ text: want.text, via: VIA });
  expect(got.raw.events[0]).toBe('message_start');
  expect(got.raw.events).toEqual(expect.arrayContaining(['content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta']));
  expect(got.raw.events.at(-1)).toBe('message_stop');
  expect(got.stopped).toEqual({ stop: 'stop_sequence', sequence: stop, content: [{ type: 'text', text: before }] });
  expect(got.cut).toEqual({ stop: 'max_tokens', content: [{ type: 'text', text: short.text }], output: 5 });
  expect(got.counted).toEqual({ input_tokens: want.prompt });
  expect(got.abort).toEqual({ read: expect.any(Number), ended: 'quietly', next: 'max_tokens' });
  expect(got.abort.read).toBeLessThan(40); // buffered events still arrive; see the OpenAI test
  expect(got.errors).toEqual([
    { badRequest: true, notFound: false, status: 400, type: 'invalid_request_error', via: VIA },
    { badRequest: true, notFound: false, status: 400, type: 'invalid_request_error', via: VIA },
    { badRequest: false, notFound: true, status: 404, type: 'not_found_error', via: VIA },
  ]);
});
