// Issue 10, item 2: the tab's own engine behind /v1, with no companion anywhere (the app is served
// by a static server whose /companion.json names a closed port). A test model downloaded in Models
// runs in this tab's inference worker ("Use in this tab"), the Playground chats with it, and again
// after an offline reload; a fresh page's first load, in a new browser context, gets
// `fetch('/v1/chat/completions')` answered by the tab engine of another page of the origin (through
// the service worker's bridge) and by its own; a client that stops reading stops the generation.
import { expect, test, type Page } from '@playwright/test';
import { gotoApp } from './support/app.ts';
import { startAppOnly, type AppOnlyServer } from './support/app-only-server.ts';

const MODEL = 'tiny-llama-q8_0';
let server: AppOnlyServer;
test.beforeAll(async () => {
  server = await startAppOnly([MODEL]);
});
test.afterAll(async () => {
  await server?.close();
});

async function controlled(page: Page): Promise<void> {
  await expect.poll(() => page.evaluate(() => window.meshApp.serviceWorker()), { timeout: 30_000 }).toMatchObject({ state: 'active', controlled: true });
}

async function chatInPlayground(page: Page, text: string): Promise<{ reply: string; servedBy: string; meta: string }> {
  await page.goto(`${server.base}/#/playground`);
  const picker = page.getByLabel('Model', { exact: true });
  await expect(picker).toHaveAttribute('data-loaded', 'true', { timeout: 30_000 });
  await expect(picker).toHaveValue(MODEL);
  await expect(picker.locator(`option[value="${MODEL}"]`)).toHaveText(`${MODEL} · this tab`);
  await page.getByLabel('Max tokens').fill('16');
  await page.getByRole('textbox', { name: 'Message' }).fill(text);
  await page.getByTestId('send').click();
  const meta = page.getByTestId('assistant-message').last().getByTestId('reply-meta');
  await expect(meta).toHaveAttribute('data-finish', /.+/, { timeout: 60_000 });
  return {
    reply: (await page.getByTestId('assistant-message').last().locator('.msg-text').textContent()) ?? '',
    servedBy: (await meta.getByTestId('served-by').textContent()) ?? '',
    meta: (await meta.textContent()) ?? '',
  };
}

test('Use in this tab: download, run, chat in the Playground, then chat again after an offline reload', async ({ browser }) => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await gotoApp(page, `${server.base}/#/models`);
    await controlled(page); // on its first load, without a reload
    const row = page.locator(`[data-model-id="${MODEL}"]`);
    await row.getByRole('button', { name: 'Download' }).click();
    await expect(row).toHaveAttribute('data-state', 'done', { timeout: 60_000 });

    const started = Date.now();
    await row.getByTestId('use-in-tab').click();
    await expect(row).toHaveAttribute('data-tab', 'ready', { timeout: 60_000 });
    const loadMs = Date.now() - started;
    await expect(row.getByTestId('tab-status')).toContainText('Running in this tab (WASM');
    await expect(row.getByText('Served now')).toBeVisible();

    const first = await chatInPlayground(page, 'Tell me about the sea.');
    expect(first.reply.length).toBeGreaterThan(0);
    expect(first.servedBy).toBe('served by tab (layers 0–1)');

    // Offline: the shell from the service worker's cache, the weights from the weight cache.
    await context.setOffline(true);
    await page.reload();
    await page.waitForFunction(() => 'meshApp' in window);
    await expect.poll(() => page.evaluate(() => window.meshApp.tabEngine.state.kind), { timeout: 60_000 }).toBe('ready');
    const second = await chatInPlayground(page, 'And the moon?');
    expect(second.reply.length).toBeGreaterThan(0);
    expect(second.servedBy).toBe(first.servedBy);
    expect(errors).toEqual([]);
    test.info().annotations.push({ type: 'measured', description: `load in tab ${loadMs} ms; first reply meta: ${first.meta}` });
  } finally {
    await context.close();
  }
});

test("a fresh page's first load: fetch(/v1) answers from the tab engine of another page, and of its own", async ({ browser }) => {
  const context = await browser.newContext();
  try {
    const host = await context.newPage();
    await gotoApp(host, server.base);
    await controlled(host);
    // Not stored before: the load itself fills the weight cache.
    await host.evaluate(async (m) => window.meshApp.tabEngine.use(m, `${location.origin}/models/${m}.gguf`, 5_183_072), MODEL);

    const fresh = await context.newPage();
    await fresh.goto(server.base); // no wait for the app: the service worker controls the page from its first load
    const body = { model: MODEL, messages: [{ role: 'user', content: 'Tell me about the sea.' }], max_tokens: 128, temperature: 0, stream: true };
    const stream = (b: typeof body) =>
      fresh.evaluate(async (b) => {
        const t0 = performance.now();
        const res = await fetch('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
        const reader = res.body!.getReader();
        const decoder = new TextDecoder();
        let buffer = '',
          text = '',
          tokens = 0,
          firstMs = 0,
          reads = 0;
        for (;;) {
          const r = await reader.read();
          if (r.done) break;
          reads++;
          buffer += decoder.decode(r.value, { stream: true });
          let at: number;
          while ((at = buffer.indexOf('\n\n')) >= 0) {
            const data = buffer.slice(0, at).replace(/^data: /, '');
            buffer = buffer.slice(at + 2);
            if (data === '[DONE]') continue;
            const delta = JSON.parse(data).choices[0]?.delta?.content;
            if (delta) {
              tokens++;
              firstMs ||= performance.now() - t0;
              text += delta;
            }
          }
        }
        const totalMs = performance.now() - t0;
        return {
          status: res.status,
          via: res.headers.get('x-mesh-via'),
          servedBy: res.headers.get('x-mesh-served-by'),
          controlled: navigator.serviceWorker.controller !== null,
          text,
          tokens,
          reads,
          firstMs,
          totalMs,
          tokPerS: (tokens - 1) / ((totalMs - firstMs) / 1000),
        };
      }, b);
    const streamed = await stream(body);
    expect(streamed).toMatchObject({ status: 200, via: 'service-worker; tab', servedBy: 'tab;layers=0-2', controlled: true });
    expect(streamed.tokens).toBeGreaterThan(3);
    expect(streamed.reads).toBeGreaterThan(1); // streamed through the bridge, not one body at the end (a fast engine fills a read with several events)
    const warm = await stream({ ...body, max_tokens: 128, messages: [{ role: 'user', content: 'Write a long story about ships.' }] });
    test.info().annotations.push({
      type: 'measured',
      description: `bridged: first request's first token ${streamed.firstMs.toFixed(0)} ms; warm: first token ${warm.firstMs.toFixed(0)} ms, ${warm.tokens} tokens in ${warm.totalMs.toFixed(0)} ms (${warm.tokPerS.toFixed(1)} tok/s after the first)`,
    });

    // The same answer from the page that runs the model, and the model list says where it runs.
    const own = await host.evaluate(async (b) => {
      const res = await fetch('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...b, stream: false }),
      });
      const models = await (await fetch('/v1/models')).json();
      return { via: res.headers.get('x-mesh-via'), text: (await res.json()).choices[0].message.content, models: models.data };
    }, body);
    expect(own.via).toBe('service-worker; tab');
    expect(own.text).toBe(streamed.text);
    expect(own.models).toMatchObject([{ id: MODEL, owned_by: 'tab', served_from: 'tab' }]);

    // A client that stops reading stops the generation in the host page: the next request is not queued behind it.
    const next = await fresh.evaluate(async (b) => {
      const controller = new AbortController();
      const res = await fetch('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...b, max_tokens: 2000 }),
        signal: controller.signal,
      });
      await res.body!.getReader().read();
      controller.abort();
      const t0 = performance.now();
      const after = await fetch('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...b, stream: false, max_tokens: 4 }),
      });
      return { status: after.status, ms: performance.now() - t0, tokens: (await after.json()).usage.completion_tokens };
    }, body);
    expect(next).toMatchObject({ status: 200, tokens: 4 });
    expect(next.ms).toBeLessThan(10_000);
  } finally {
    await context.close();
  }
});
