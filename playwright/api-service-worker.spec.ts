// Issue 4 from a page: `fetch('/v1/…')` is answered by the service worker, which forwards to the
// companion's API (npm start's own engine) and streams the SSE answer through as it is produced; with
// the companion unreachable it answers a 503 in the client's protocol. An uncontrolled page (first
// load, hard reload) reaches the API through apiFetch.
import { expect, test, type Page } from '@playwright/test';
import { startStack, type Stack } from './support/stack.ts';
import { gotoApp } from './support/app.ts';

const MODEL = 'tiny-llama-q8_0';
let stack: Stack | undefined;
test.afterEach(async ({}, testInfo) => {
  if (stack && testInfo.status !== testInfo.expectedStatus) await testInfo.attach('npm-start.log', { body: stack.log(), contentType: 'text/plain' });
  await stack?.stop();
  stack = undefined;
});

async function controlledPage(page: Page, app: string): Promise<void> {
  await gotoApp(page, app);
  await expect.poll(() => page.evaluate(() => window.meshApp.serviceWorker()), { timeout: 30_000 }).toMatchObject({ state: 'active', controlled: true });
}

const chat = { model: MODEL, messages: [{ role: 'user', content: 'Tell me about the sea.' }], max_tokens: 48, temperature: 0 };

test('the service worker streams /v1 from the companion, and answers 503 without one', async ({ page }) => {
  stack = await startStack();
  const { app, api } = stack.urls;
  // What the companion answers directly (greedy, so the streamed text must be the same).
  const direct = await (
    await fetch(`${api}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat) })
  ).json();
  const expected: string = direct.choices[0].message.content;
  expect(expected.length).toBeGreaterThan(0);

  await controlledPage(page, app);
  const streamed = await page.evaluate(async (body) => {
    const res = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, stream: true }),
    });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let text = '';
    let reads = 0;
    let framesBeforeDone = 0;
    let done = false;
    while (!done) {
      const r = await reader.read();
      if (r.done) break;
      reads++;
      buffer += decoder.decode(r.value, { stream: true });
      let at: number;
      while ((at = buffer.indexOf('\n\n')) >= 0) {
        const data = buffer.slice(0, at).replace(/^data: /, '');
        buffer = buffer.slice(at + 2);
        if (data === '[DONE]') {
          done = true;
          break;
        }
        framesBeforeDone++;
        text += JSON.parse(data).choices[0]?.delta?.content ?? '';
      }
    }
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      via: res.headers.get('x-mesh-via'),
      servedBy: res.headers.get('x-mesh-served-by'),
      text,
      reads,
      framesBeforeDone,
      done,
    };
  }, chat);
  expect(streamed).toMatchObject({ status: 200, via: 'service-worker; companion', servedBy: 'companion;layers=0-2', text: expected, done: true });
  expect(streamed.type).toMatch(/^text\/event-stream/);
  // read piece by piece as the tokens were produced, not as one body at the end
  expect(streamed.reads).toBeGreaterThan(3);

  // The companion's API out of reach: the worker answers itself, in each protocol's shape.
  await page.evaluate(() => window.meshApp.setCompanionApi({ url: 'http://127.0.0.1:9' }));
  const refused = await page.evaluate(async (body) => {
    const openai = await fetch('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const anthropic = await fetch('/v1/messages', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: body.model, max_tokens: 8, messages: body.messages }),
    });
    return {
      openai: { status: openai.status, via: openai.headers.get('x-mesh-via'), body: await openai.json() },
      anthropic: { status: anthropic.status, body: await anthropic.json() },
    };
  }, chat);
  expect(refused.openai).toEqual({
    status: 503,
    via: 'service-worker; local',
    body: { error: { message: expect.stringContaining('no peer can serve'), type: 'server_error', param: null, code: 'no_model_available' } },
  });
  expect(refused.anthropic).toEqual({
    status: 503,
    body: { type: 'error', error: { type: 'overloaded_error', message: expect.stringContaining('no peer can serve') } },
  });

  await page.evaluate(() => window.meshApp.setCompanionApi(null));
  const back = await page.evaluate(async () => (await fetch('/v1/models')).json());
  expect(back.data.map((m: { id: string }) => m.id)).toEqual([MODEL]);
});

test('an uncontrolled page reaches the API through apiFetch', async ({ browser }) => {
  stack = await startStack();
  // No service worker at all: as on a first load before it activates, or after a hard reload.
  const context = await browser.newContext({ serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    await gotoApp(page, stack.urls.app);
    await page.waitForFunction(() => typeof window.meshApp?.apiFetch === 'function');
    const result = await page.evaluate(
      async (body) => {
        const res = await window.meshApp.apiFetch('/v1/chat/completions', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        return { controlled: navigator.serviceWorker.controller !== null, status: res.status, via: res.headers.get('x-mesh-via'), body: await res.json() };
      },
      { ...chat, max_tokens: 4 },
    );
    expect(result).toMatchObject({ controlled: false, status: 200, via: 'page; companion' });
    expect(result.body.usage.completion_tokens).toBeGreaterThan(0);
  } finally {
    await context.close();
  }
});
