// Issue 6, first increment: the views people use, against the real `npm start` stack. The playground
// streams a reply from the companion (incrementally; Stop works; tokens/s and served-by shown), the
// Models view downloads a bundled model into the weight cache with progress, resumes it after a
// reload mid-download, and a tab then serves it with no second download; every view passes an axe scan. Screenshots of each view are attached as artifacts.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { seriousA11yViolations } from './support/axe.ts';
import { stackPerFile } from './support/stack-per-file.ts';

const MODEL = 'tiny-llama-q8_0';
const MODEL_FILE = join(import.meta.dirname, '..', '.cache', 'models', `${MODEL}.gguf`);

const stack = stackPerFile();

async function shot(page: Page, name: string): Promise<void> {
  const info = test.info();
  const path = info.outputPath(`${name}.png`);
  await page.evaluate(() => window.scrollTo(0, 0)); // else the sticky header lands mid-page in a full-page shot
  await page.screenshot({ path, fullPage: true });
  await info.attach(name, { path, contentType: 'image/png' });
}

function trackErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    // A reload in the middle of a download aborts its fetch; Chromium logs nothing for that, but be explicit.
    if (message.type() === 'error') errors.push(message.text());
  });
  return errors;
}

test('playground: streams a reply, stops one, shows speed, peers and the API snippet', async ({ page }) => {
  const errors = trackErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${stack().urls.app}/#/playground`);
  await expect(page.getByRole('heading', { level: 1, name: 'Playground' })).toBeVisible();
  const picker = page.getByLabel('Model', { exact: true });
  await expect(picker).toHaveAttribute('data-loaded', 'true');
  await expect(picker).toHaveValue(MODEL);

  await page.getByLabel('System prompt').fill('You are terse.');
  await page.getByLabel('Max tokens').fill('40');
  await page.getByLabel('Seed').fill('7');

  // Record the reply's text at every DOM update while it streams: incremental means many growing
  // versions, not one at the end. The observer is in place before the message is sent.
  await page.evaluate(() => {
    const transcript = document.querySelector('[data-testid="transcript"]')!;
    const seen: string[] = [];
    (window as unknown as { replyUpdates: string[] }).replyUpdates = seen;
    new MutationObserver(() => {
      const text = transcript.querySelector('[data-testid="assistant-message"] .msg-text')?.textContent;
      if (text) seen.push(text);
    }).observe(transcript, { subtree: true, childList: true, characterData: true });
  });
  const input = page.getByRole('textbox', { name: 'Message' });
  await input.fill('Tell me about meshes.');
  await input.press('Enter');
  const reply = page.getByTestId('assistant-message').last();
  await expect(reply.getByTestId('reply-meta')).toHaveAttribute('data-finish', /.+/);
  const updates = await page.evaluate(() => (window as unknown as { replyUpdates: string[] }).replyUpdates);
  const texts = [...new Set(updates.filter((t) => t.length > 0))];
  expect(texts.length).toBeGreaterThanOrEqual(5);
  for (let i = 1; i < texts.length; i++) expect(texts[i].startsWith(texts[i - 1])).toBe(true); // it grew, never rewrote
  const meta = reply.getByTestId('reply-meta');
  await expect(meta).toHaveAttribute('data-finish', 'length'); // 40 tokens of random weights: it hits the cap
  await expect(meta.getByTestId('tokens-per-second')).toHaveText(/^\d+\.\d tokens\/s$/);
  await expect(meta).toContainText('40 tokens');
  await expect(meta.getByTestId('served-by')).toHaveText(/^served by companion \(layers 0–1\)$/);

  // The snippet names the companion's real API address and the chosen model.
  const snippet = page.getByTestId('api-snippet');
  await expect(snippet).toContainText(`curl -N ${stack().urls.api}/v1/chat/completions`);
  await expect(snippet).toContainText(`"model":"${MODEL}"`);
  await page.getByRole('button', { name: 'Python' }).click();
  await expect(snippet).toContainText(`base_url="${stack().urls.api}/v1"`);
  await shot(page, 'playground');
  expect(await seriousA11yViolations(page)).toEqual([]);

  // Stop: a long reply, stopped after its first words, ends as "stopped" well short of its cap.
  await page.getByLabel('Max tokens').fill('1500');
  await input.fill('Now go on for a long time.');
  await page.getByTestId('send').click();
  const second = page.getByTestId('assistant-message').nth(1);
  await expect(second.locator('.msg-text')).not.toBeEmpty();
  await page.getByTestId('stop').click();
  await expect(second.getByTestId('reply-meta')).toHaveAttribute('data-finish', 'stopped');
  const stoppedAt = Number(/(\d+) tokens ·/.exec((await second.getByTestId('reply-meta').textContent()) ?? '')?.[1]);
  expect(stoppedAt).toBeGreaterThan(0);
  expect(stoppedAt).toBeLessThan(1500);
  await expect(page.getByTestId('send')).toBeEnabled();

  // Regenerate replaces the last reply with a fresh one; with the seed fixed, twice gives the same text.
  await page.getByLabel('Max tokens').fill('12');
  await page.getByTestId('regenerate').click();
  await expect(second.getByTestId('reply-meta')).toHaveAttribute('data-finish', 'length');
  await expect(page.getByTestId('assistant-message')).toHaveCount(2);
  const regenerated = await second.locator('.msg-text').textContent();
  expect(regenerated).not.toBe('');
  await page.getByTestId('regenerate').click();
  await expect(second.getByTestId('reply-meta')).toHaveAttribute('data-finish', 'length');
  await expect(second.locator('.msg-text')).toHaveText(regenerated!);
  await expect(page.getByTestId('playground-error')).toBeHidden();
  expect(errors).toEqual([]);
});

test('models: downloads a bundled model with progress, resumes after a reload mid-download; the tab then serves it with no download', async ({
  page,
  context,
}) => {
  const errors = trackErrors(page);
  const file = readFileSync(MODEL_FILE);
  const total = file.length;
  const expectedHash = createHash('sha256').update(file).digest('hex');
  // Slow each ranged read down a little (localhost is too fast to reload in the middle), and count
  // the body bytes the server really sent: the proof of where the resumed download started.
  let bytesSent = 0;
  const requests: { method: string; range: string }[] = [];
  await context.route(`**/models/${MODEL}.gguf`, async (route) => {
    requests.push({ method: route.request().method(), range: route.request().headers().range ?? '' });
    await new Promise((r) => setTimeout(r, 150));
    try {
      const response = await route.fetch();
      const body = await response.body();
      bytesSent += body.length;
      await route.fulfill({ response, body });
    } catch {
      // the page reloaded while this part was in flight
    }
  });
  const gets = () => requests.filter((r) => r.method === 'GET');

  await page.setViewportSize({ width: 1280, height: 900 });
  // What versions before the weight cache kept in Cache Storage is dropped, not left holding disk space.
  await page.goto(`${stack().urls.app}/#/models`);
  await page.evaluate(async () => {
    await (await caches.open('mesh-models-v1')).put('/__mesh/models/x/part-0', new Response('old'));
  });
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Models' })).toBeVisible();
  await expect.poll(() => page.evaluate(() => caches.has('mesh-models-v1'))).toBe(false);
  const row = page.locator(`[data-model-id="${MODEL}"]`);
  await expect(row).toHaveAttribute('data-state', 'none');
  await expect(page.getByTestId('storage-text')).toHaveText(/^0 B used of [\d.]+ (MiB|GiB|TiB) for models\./);
  await shot(page, 'models');
  expect(await seriousA11yViolations(page)).toEqual([]);

  await row.getByRole('button', { name: 'Download' }).click();
  await expect(row).toHaveAttribute('data-state', 'downloading');
  await expect.poll(async () => Number(await row.getAttribute('data-received')), { timeout: 20_000 }).toBeGreaterThan(total / 4);
  await expect(row.getByTestId('progress-text')).toHaveText(/^[\d.]+ (B|KiB|MiB) of 4\.9 MiB · [\d.]+ (B|KiB|MiB)\/s( · .+ left)?$/);
  expect(Number(await row.locator('progress').getAttribute('value'))).toBeGreaterThan(0.2);
  await shot(page, 'models-downloading');
  // The size and ETag first (they name the cached copy), then the header's first MiB, then the rest.
  expect(requests[0]).toEqual({ method: 'HEAD', range: '' });
  expect(gets()[0].range).toBe('bytes=0-1048575');

  await page.reload();
  await expect(row).toHaveAttribute('data-state', 'paused');
  const stored = Number(await row.getAttribute('data-received'));
  expect(stored).toBeGreaterThan(0);
  expect(stored).toBeLessThan(total);
  await expect(row.getByTestId('progress-text')).toContainText('resumes from here');
  await shot(page, 'models-paused-after-reload');
  bytesSent = 0;
  const getsBefore = gets().length;

  await row.getByRole('button', { name: 'Resume' }).click();
  await expect(row).toHaveAttribute('data-state', 'done', { timeout: 30_000 });
  expect(gets()[getsBefore].range).toMatch(new RegExp(`^bytes=${stored}-\\d+$`));
  expect(bytesSent).toBe(total - stored);
  expect(Number(await row.getAttribute('data-fetched-this-run'))).toBe(total - stored);
  await expect(row.getByTestId('progress-text')).toHaveText('4.9 MiB stored on this device');
  await expect(page.getByTestId('storage-text')).toContainText('4.9 MiB used of');

  // What is stored is byte for byte the served file: read straight from the weight cache's IndexedDB.
  const hash = await page.evaluate(async (url) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open('mesh-llm-weights');
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const all = <T>(store: string, query?: IDBKeyRange) =>
      new Promise<T[]>((resolve, reject) => {
        const r = db.transaction(store).objectStore(store).getAll(query);
        r.onsuccess = () => resolve(r.result as T[]);
        r.onerror = () => reject(r.error);
      });
    const [model] = (await all<{ key: string; url: string }>('models')).filter((m) => m.url === url);
    const chunks = await all<{ index: number; data: Uint8Array }>('chunks', IDBKeyRange.bound([model.key, 0], [model.key, Infinity]));
    db.close();
    const bytes = await new Blob(chunks.sort((x, y) => x.index - y.index).map((c) => c.data as Uint8Array<ArrayBuffer>)).arrayBuffer();
    const digest = await crypto.subtle.digest('SHA-256', bytes);
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  }, `${stack().urls.app}/models/${MODEL}.gguf`);
  expect(hash).toBe(expectedHash);
  await shot(page, 'models-downloaded');
  expect(await seriousA11yViolations(page)).toEqual([]);

  // This tab now contributes the model (`?serve-tab=`, attached to the companion): the engine loads
  // it from the same cache, so the server sends its size and ETag and not one byte of the file.
  bytesSent = 0;
  const getsBeforeServe = gets().length;
  const serving = await context.newPage();
  const attached = serving.waitForEvent('console', { predicate: (m) => m.text().startsWith('tab-serve: attached'), timeout: 30_000 });
  await serving.goto(`${stack().urls.app}/?serve-tab=${MODEL}#/home`);
  await attached;
  expect(gets().length).toBe(getsBeforeServe);
  expect(bytesSent).toBe(0);
  await serving.close();

  // A curated model's URL is on huggingface.co, out of reach here: the row says so instead of hanging.
  const curated = page.locator('[data-model-id="qwen2.5-0.5b-instruct-q4_k_m"]');
  await curated.getByRole('button', { name: 'Download' }).click();
  await expect(curated).toHaveAttribute('data-state', 'error', { timeout: 20_000 });
  await expect(curated.getByRole('alert')).toContainText(/huggingface\.co/);

  await row.getByRole('button', { name: 'Delete' }).click();
  await expect(row).toHaveAttribute('data-state', 'none');
  await expect(page.getByTestId('storage-text')).toHaveText(/^0 B used of/);
  expect(errors.filter((e) => !/huggingface\.co|ERR_|Failed to load resource/.test(e))).toEqual([]);
});

test('home, dashboard, phone layout: settings persist, a 503 is explained, axe finds nothing serious', async ({ page }) => {
  const errors = trackErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(stack().urls.app);
  await expect(page.getByRole('heading', { level: 1, name: 'Home' })).toBeVisible();
  await expect(page.getByTestId('status-panel')).toHaveAttribute('data-ready', 'true');
  await expect(page.getByTestId('contribute-state')).toHaveAttribute('data-state', 'paused');
  await page.getByRole('radio', { name: /^CPU/ }).check();
  await page.getByLabel('Memory it may use').fill('1024');
  // Outside any mesh, the one action to contribute joins this computer's private mesh as a server.
  await page.getByTestId('contribute-toggle').click();
  await expect(page.getByTestId('contribute-state')).toHaveAttribute('data-state', 'ready');
  await expect(page.getByTestId('contribute-toggle')).toHaveText('Pause');
  await expect(page.locator('[data-slot="mesh-join"]')).toHaveAttribute('data-state', 'joined', { timeout: 20_000 });
  await expect(page.getByTestId('mesh-role')).toHaveText(/Server/);
  // Hidden (another tab in front), the card says the browser may slow it; the note follows visibility.
  const note = page.getByTestId('background-note');
  await expect(note).toContainText('as far as the browser allows');
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await expect(note).toContainText('This tab is in the background');
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await expect(note).toContainText('was in the background for a while');
  await shot(page, 'home');
  expect(await seriousA11yViolations(page)).toEqual([]);

  await page.reload();
  await expect(page.getByRole('radio', { name: /^CPU/ })).toBeChecked();
  await expect(page.getByLabel('Memory it may use')).toHaveValue('1024');
  await expect(page.locator('#memory-budget-value')).toHaveText('1 GiB');
  await expect(page.getByTestId('contribute-toggle')).toHaveAttribute('aria-pressed', 'true');
  // Contributing was left on: the reloaded tab lends again, in the same mesh.
  await expect(page.locator('[data-slot="mesh-join"]')).toHaveAttribute('data-state', 'joined', { timeout: 20_000 });

  await page.getByRole('link', { name: 'Dashboard' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  await shot(page, 'dashboard');
  expect(await seriousA11yViolations(page)).toEqual([]);

  // Phone size, dark scheme: the playground still lays out and passes the contrast checks.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.getByRole('link', { name: 'Playground' }).click();
  await expect(page.getByLabel('Model', { exact: true })).toHaveAttribute('data-loaded', 'true');
  await shot(page, 'playground-phone-dark');
  expect(await seriousA11yViolations(page)).toEqual([]);

  // The companion goes away: the app's own API answers 503 "no peer can serve", and the playground says so.
  await stack().stop();
  const input = page.getByRole('textbox', { name: 'Message' });
  await input.fill('Anyone there?');
  await input.press('Enter');
  const error = page.getByTestId('playground-error');
  await expect(error).toBeVisible();
  await expect(error).toHaveAttribute('data-code', 'no_peer');
  await expect(error).toContainText('No peer can serve this model');
  await expect(page.getByTestId('assistant-message')).toHaveCount(0);
  await shot(page, 'playground-no-peer');
  expect(await seriousA11yViolations(page)).toEqual([]);
  expect(errors.filter((e) => !/503|ERR_CONNECTION_REFUSED/.test(e))).toEqual([]);
});
