// Issue 10 item 3: a client tab's /v1 goes into its mesh. The app is served from a plain static
// server of its own (no /companion.json) and the companion-API setting points at a dead port, so no
// companion API is reachable from the page; the tab joins the companion's private mesh as a client
// (`#join=…&role=client&auto=1`, WebSockets to the companion only) and its apiFetch('/v1/…') is
// answered by the head over libp2p: the same model list and greedy text as the companion's HTTP API,
// errors in the protocol's shape, and a stop mid-stream that ends the head's generation. A plain
// fetch('/v1/…') through the service worker, from this tab or another of the origin, is answered by
// the mesh through this tab too.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, expect, test, type Browser } from '@playwright/test';
import { createStaticHandler } from '../src/companion/static-server.ts';
import { gotoApp } from './support/app.ts';
import { chromiumLaunchOptions } from './support/browser.ts';
import { startStack, type Stack } from './support/stack.ts';

const MODEL = 'tiny-llama-q8_0';
const chat = { model: MODEL, messages: [{ role: 'user', content: 'Tell me about the sea.' }], max_tokens: 32, temperature: 0 };

test.setTimeout(180_000);

let stack: Stack | undefined;
let app: Server | undefined;
let browser: Browser | undefined;

test.afterEach(async ({}, testInfo) => {
  if (stack && testInfo.status !== testInfo.expectedStatus) await testInfo.attach('npm-start.log', { body: stack.log(), contentType: 'text/plain' });
  await browser?.close();
  await new Promise((resolve) => (app ? app.close(resolve) : resolve(undefined)));
  await stack?.stop();
});

test('a client tab with no companion API in reach chats through the mesh', async () => {
  stack = await startStack();
  const { api } = stack.urls;
  const invite = new URL(stack.printed.invite);
  // The built app (npm start made dist/) from an origin that is not the companion's.
  app = createServer(createStaticHandler([{ prefix: '/', dir: join(import.meta.dirname, '..', 'dist'), spa: true }]));
  await new Promise<void>((resolve) => app!.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  browser = await chromium.launch(chromiumLaunchOptions());
  const context = await browser.newContext();
  const page = await context.newPage();
  await gotoApp(page, `${origin}/${invite.hash}&role=client&auto=1`);
  await page.evaluate(() => window.meshApp.setCompanionApi({ url: 'http://127.0.0.1:9' }));
  await expect
    .poll(
      () =>
        page.evaluate(() => {
          const s = window.meshApp.mesh.state();
          return s.status === 'joined' && 'peers' in s && s.peers.some((p) => p.companion && p.member);
        }),
      { timeout: 60_000, message: 'the client tab should join and verify the companion' },
    )
    .toBe(true);
  expect(await page.evaluate(() => fetch('/companion.json').then((r) => r.status))).toBe(404);

  // The model list the head's API gives, under the ids requests use.
  const models = await page.evaluate(async () => {
    const res = await window.meshApp.apiFetch('/v1/models');
    return { via: res.headers.get('x-mesh-via'), body: await res.json() };
  });
  expect(models.via).toBe('page; mesh');
  expect(models.body).toEqual(await (await fetch(`${api}/v1/models`)).json());

  // Greedy text: what the companion's HTTP API answers, streamed token by token through the mesh.
  const direct = await (
    await fetch(`${api}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat) })
  ).json();
  const viaMesh: Timed[] = [];
  const viaHttp: Timed[] = [];
  for (let i = 0; i < 3; i++) {
    viaMesh.push(
      await page.evaluate(
        async ([body, read]) => {
          const started = performance.now();
          const res = await window.meshApp.apiFetch('/v1/chat/completions', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ ...body, stream: true }),
          });
          // The same reader as Node uses below, sent into the page as source.
          return (new Function(`return (${read})`)() as (r: Response, s: number) => Promise<Timed>)(res, started);
        },
        [chat, readSse.toString()] as const,
      ),
    );
    const started = performance.now();
    viaHttp.push(
      await readSse(
        await fetch(`${api}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...chat, stream: true }),
        }),
        started,
      ),
    );
  }
  for (const streamed of viaMesh) {
    expect(streamed).toMatchObject({ status: 200, via: 'page; mesh', servedBy: 'companion;layers=0-2', text: direct.choices[0].message.content });
    expect(streamed.at.length).toBeGreaterThan(3);
  }
  const summary = (runs: Timed[]) => {
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1];
    return `first token ${median(runs.map((r) => r.at[0])).toFixed(1)} ms, then ${median(runs.map((r) => (r.at.at(-1)! - r.at[0]) / (r.at.length - 1))).toFixed(2)} ms/token`;
  };
  console.info(`mesh-api, median of 3 (${viaMesh[0].at.length} tokens): the tab through the mesh ${summary(viaMesh)}; Node over HTTP ${summary(viaHttp)}`);

  // A plain fetch('/v1/…') goes to the service worker, which cannot reach libp2p: it hands requests
  // for the head's models to this page (its mesh entry, src/client/mesh-page-provider.ts), from this
  // page and from another tab of the origin that is in no mesh alike.
  const other = await context.newPage();
  await gotoApp(other, `${origin}/`);
  for (const tab of [page, other]) await tab.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 30_000 });
  await expect
    .poll(
      () =>
        other.evaluate(async () => {
          const list = await (await fetch('/v1/models')).json();
          return list.data?.map((m: { id: string; served_from: string }) => `${m.id} ${m.served_from}`);
        }),
      { timeout: 20_000, message: "the service worker should list the head's models as served by the mesh" },
    )
    .toEqual([`${MODEL} mesh`]);
  const viaWorker = await page.evaluate(
    async ([body, read]) => {
      const started = performance.now();
      const res = await fetch('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, stream: true }),
      });
      return (new Function(`return (${read})`)() as (r: Response, s: number) => Promise<Timed>)(res, started);
    },
    [chat, readSse.toString()] as const,
  );
  expect(viaWorker).toMatchObject({ status: 200, via: 'service-worker; mesh', servedBy: 'companion;layers=0-2', text: direct.choices[0].message.content });
  expect(viaWorker.at.length).toBeGreaterThan(3);
  const fromOther = await other.evaluate(async (body) => {
    const res = await fetch('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, via: res.headers.get('x-mesh-via'), text: (await res.json()).choices?.[0]?.message?.content };
  }, chat);
  expect(fromOther).toEqual({ status: 200, via: 'service-worker; mesh', text: direct.choices[0].message.content });
  // Stopped mid-stream in the other tab: the abort crosses the service worker and this page to the head.
  const stoppedViaWorker = await other.evaluate(async (body) => {
    const controller = new AbortController();
    const res = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, max_tokens: 400, stream: true }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    return {
      via: res.headers.get('x-mesh-via'),
      error: await reader.read().then(
        () => 'read on',
        (e: Error) => e.name,
      ),
    };
  }, chat);
  expect(stoppedViaWorker).toEqual({ via: 'service-worker; mesh', error: 'AbortError' });

  // Errors come from the head in each protocol's own shape.
  const errors = await page.evaluate(async (model) => {
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      window.meshApp.apiFetch(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const openai = await post('/v1/chat/completions', { model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] });
    const anthropic = await post(
      '/v1/messages',
      { model: 'no-such-model', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] },
      { 'anthropic-version': '2023-06-01' },
    );
    const bad = await post('/v1/chat/completions', { model, messages: 'not a list' });
    return Promise.all([openai, anthropic, bad].map(async (r) => ({ status: r.status, via: r.headers.get('x-mesh-via'), body: await r.json() })));
  }, MODEL);
  expect(errors[0]).toMatchObject({ status: 404, via: 'page; mesh', body: { error: { type: 'invalid_request_error', code: 'model_not_found' } } });
  expect(errors[1]).toMatchObject({ status: 404, via: 'page; mesh', body: { type: 'error', error: { type: 'not_found_error' } } });
  expect(errors[2]).toMatchObject({ status: 400, body: { error: { type: 'invalid_request_error' } } });

  // Stopped mid-stream: the page sees an AbortError and the mesh serves the next request (that the
  // head stops generating within a token is measured in src/companion/companion-mesh-api.test.ts).
  const stopped = await page.evaluate(async (body) => {
    const controller = new AbortController();
    const res = await window.meshApp.apiFetch('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, max_tokens: 400, stream: true }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    const error = await reader.read().then(
      () => 'read on',
      (e: Error) => e.name,
    );
    const next = await window.meshApp.apiFetch('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { error, next: next.status, text: (await next.json()).choices[0].message.content };
  }, chat);
  expect(stopped).toEqual({ error: 'AbortError', next: 200, text: direct.choices[0].message.content });
});

interface Timed {
  status: number;
  via: string | null;
  servedBy: string | null;
  text: string;
  /** When each content event arrived, in ms from the request. */
  at: number[];
}

/** An OpenAI SSE answer's text and when each content event came (runs in Node and, as source, in the page). */
async function readSse(res: Response, started: number): Promise<Timed> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let text = '';
  const at: number[] = [];
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    buffer += r.value;
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const data = buffer.slice(0, cut).replace(/^data: /, '');
      buffer = buffer.slice(cut + 2);
      if (data === '[DONE]') continue;
      const delta = JSON.parse(data).choices[0]?.delta?.content ?? '';
      if (delta) {
        text += delta;
        at.push(performance.now() - started);
      }
    }
  }
  return { status: res.status, via: res.headers.get('x-mesh-via'), servedBy: res.headers.get('x-mesh-served-by'), text, at };
}
