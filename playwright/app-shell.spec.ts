// Issue 2's "Done when" for the PWA: `npm start` serves a page that is crossOriginIsolated, registers
// its service worker and gets a WebGPU adapter in headless Chromium; with the server stopped, a reload
// still shows the app shell from the service worker's cache.
import { expect, test, type Page } from '@playwright/test';
import type { CapabilityReport } from '../src/protocol/capabilities.ts';
import { seriousA11yViolations } from './support/axe.ts';
import { startStack, type Stack } from './support/stack.ts';
import { gotoApp } from './support/app.ts';

let stack: Stack | undefined;
test.afterEach(async ({}, testInfo) => {
  if (stack && testInfo.status !== testInfo.expectedStatus) await testInfo.attach('npm-start.log', { body: stack.log(), contentType: 'text/plain' });
  await stack?.stop();
  stack = undefined;
});

async function shot(page: Page, name: string): Promise<void> {
  const info = test.info();
  const path = info.outputPath(`${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await info.attach(name, { path, contentType: 'image/png' });
}

function capabilities(page: Page): Promise<CapabilityReport> {
  return page.evaluate(() => window.meshApp.capabilities);
}

test('npm start serves an isolated, offline-capable app shell with WebGPU', async ({ page }) => {
  const errors: string[] = [];
  page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  page.on('pageerror', (error) => errors.push(error.message));

  stack = await startStack();
  const app = stack.urls.app;
  expect(app).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  await page.setViewportSize({ width: 1280, height: 860 });
  await gotoApp(page, app);

  await expect(page.getByRole('heading', { level: 1, name: 'Home' })).toBeVisible();
  await expect(page.getByRole('link', { name: /^Mesh LLM/ })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link')).toHaveText(['Home', 'Playground', 'Dashboard', 'Models']);

  const report = await capabilities(page);
  expect(report.crossOriginIsolated).toBe(true);
  expect(report.sharedArrayBuffer).toBe(true);
  expect(report.gpu.state).toBe('ok'); // SwiftShader here: isFallbackAdapter may be true
  expect(report.gpu.maxBufferSize).toBeGreaterThan(0);
  expect(report.wasm).toMatchObject({ supported: true, simd: true, threads: true });
  expect(report.hardwareConcurrency).toBeGreaterThanOrEqual(1);

  // Registered, activated, and (clients.claim) controlling this very first load. Polling the app's own
  // view first turns a failed registration into its error message instead of a timeout.
  await expect.poll(() => page.evaluate(() => window.meshApp.serviceWorker()), { timeout: 30_000 }).toMatchObject({ state: 'active', controlled: true });
  const worker = await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    return { scope: registration.scope, script: registration.active?.scriptURL, state: registration.active?.state };
  });
  expect(worker).toEqual({ scope: `${app}/`, script: `${app}/sw.js`, state: 'activated' });
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);

  // The status panel says the same thing a person would read.
  const panel = page.getByTestId('status-panel');
  await expect(panel).toHaveAttribute('data-ready', 'true');
  await expect(panel.locator('[data-status-row="isolation"]')).toHaveAttribute('data-verdict', 'ok');
  await expect(panel.locator('[data-status-row="offline"]')).toHaveAttribute('data-verdict', 'ok');
  await expect(panel.locator('[data-status-row="webgpu"]')).not.toHaveAttribute('data-verdict', 'missing');

  // The precache holds the build's own file list: the start page, the hashed bundle, the manifest, icons.
  const cached = await page.evaluate(async () => {
    const names = (await caches.keys()).filter((n) => n.startsWith('mesh-shell-'));
    const keys = names.length === 1 ? (await (await caches.open(names[0])).keys()).map((r) => new URL(r.url).pathname) : [];
    return { names, keys };
  });
  expect(cached.names).toHaveLength(1);
  expect(cached.keys).toEqual(expect.arrayContaining(['/', '/manifest.webmanifest', '/icons/icon-192.png', '/icons/maskable-512.png']));
  expect(cached.keys.some((k) => /^\/assets\/index-[\w-]+\.js$/.test(k))).toBe(true);
  expect(cached.keys).not.toContain('/sw.js');

  // Worker script and manifest are served so that an isolated page may use them.
  const sw = await page.request.get(`${app}/sw.js`);
  expect(sw.headers()['cross-origin-embedder-policy']).toBe('require-corp');
  expect(sw.headers()['content-type']).toMatch(/javascript/);
  expect(sw.headers()['cache-control']).toContain('no-cache');
  const manifestResponse = await page.request.get(`${app}/manifest.webmanifest`);
  expect(manifestResponse.headers()['content-type']).toMatch(/^application\/manifest\+json/);
  const manifest = await manifestResponse.json();
  expect(manifest).toMatchObject({ start_url: '/', scope: '/', display: 'standalone' });
  for (const icon of manifest.icons as Array<{ src: string; type: string }>) {
    const response = await page.request.get(`${app}${icon.src}`);
    expect(response.status(), icon.src).toBe(200);
    expect(response.headers()['content-type']).toBe(icon.type);
  }

  await shot(page, 'app-shell');
  expect(await seriousA11yViolations(page)).toEqual([]);

  expect(errors).toEqual([]);

  // Offline: the server is gone, and a reload still opens the shell, still isolated.
  await stack.stop();
  await expect(page.request.get(`${app}/sw.js`, { timeout: 5000 })).rejects.toThrow();
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Home' })).toBeVisible();
  const offline = await capabilities(page);
  expect(offline.crossOriginIsolated).toBe(true);
  expect(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toBe(`${app}/sw.js`);
  await expect(panel).toHaveAttribute('data-ready', 'true');
  // The failed update check of sw.js (no server) does not hide that the cached version is running.
  await expect(panel.locator('[data-status-row="offline"]')).toHaveAttribute('data-verdict', 'ok');
  await expect(panel.locator('[data-status-row="offline"] .status-value')).toHaveText('Ready offline');

  // The other views open offline too, by keyboard.
  await page.getByRole('link', { name: 'Playground' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'Playground' })).toBeFocused();
  await expect(page.getByRole('link', { name: 'Playground' })).toHaveAttribute('aria-current', 'page');
  await shot(page, 'app-shell-offline-playground');
  expect(await seriousA11yViolations(page)).toEqual([]);

  // The same shell on a phone, in the dark scheme: artifacts to look at, and a second contrast check.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.getByRole('link', { name: 'Home' }).click();
  await expect(panel).toHaveAttribute('data-ready', 'true');
  await shot(page, 'app-shell-phone-dark');
  expect(await seriousA11yViolations(page)).toEqual([]);

  // Offline, Home still asks the companion for its mesh's invite: that request fails, and nothing else does.
  expect(errors.filter((e) => !/ERR_CONNECTION_REFUSED/.test(e))).toEqual([]);
});
