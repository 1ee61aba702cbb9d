// A new deploy of the PWA: the new service worker installs beside the running one with its own cache,
// downloading only the files that changed (counted at the server), the open page learns of it without
// a reload, and the new worker waits (no skipWaiting) until the page asks, then takes over and drops
// the old cache.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { build } from 'vite';
import { writeServiceWorker } from '../tools/build/service-worker-plugin.ts';
import { startCountingProxy, type CountingProxy } from './support/counting-proxy.ts';
import { startStack, type Stack } from './support/stack.ts';

const root = join(import.meta.dirname, '..');
let stack: Stack | undefined;
let dist: string | undefined;
let proxy: CountingProxy | undefined;

test.afterEach(async ({}, testInfo) => {
  if (stack && testInfo.status !== testInfo.expectedStatus) await testInfo.attach('npm-start.log', { body: stack.log(), contentType: 'text/plain' });
  await stack?.stop();
  stack = undefined;
  await proxy?.close();
  proxy = undefined;
  if (dist) rmSync(dist, { recursive: true, force: true });
});

const shellCaches = (page: Page) => page.evaluate(async () => (await caches.keys()).filter((n) => n.startsWith('mesh-shell-')).sort());
// meshApp appears once main.ts has loaded the app chunk: until then, no status yet.
const workerStatus = (page: Page) => page.evaluate(() => window.meshApp?.serviceWorker() ?? null);

test('a new deploy waits for the page, then replaces the old cache', async ({ page }) => {
  // A private copy of the build, served by the real stack, that this test can "deploy" into.
  dist = mkdtempSync(join(tmpdir(), 'mesh-dist-'));
  // A production build whatever ran before in this worker: Vite's dev servers (other specs) set
  // NODE_ENV=development for the process, and a build under it ships import.meta.env.DEV = true.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({ root, configFile: join(root, 'vite.config.ts'), logLevel: 'warn', mode: 'production', build: { outDir: dist } });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
  // The page opens through a proxy that counts what reaches the server (the worker's fetches too).
  proxy = await startCountingProxy();
  stack = await startStack({ args: ['--skip-build', '--skip-model', '--dist', dist, '--cors-origin', proxy.origin] });
  proxy.target = stack.urls.app;
  await page.goto(new URL(new URL(stack.urls.app).pathname, proxy.origin).href);

  await expect
    .poll(() => workerStatus(page), { timeout: 30_000 })
    .toMatchObject({ state: 'active', controlled: true, version: expect.stringMatching(/^[0-9a-f]{16}$/) });
  const first = (await workerStatus(page))!.version;
  expect(await shellCaches(page)).toEqual([`mesh-shell-${first}`]);

  // Deploy: a changed start page, and the build's worker step run again over the changed files.
  const indexPath = join(dist, 'index.html');
  writeFileSync(indexPath, readFileSync(indexPath, 'utf8').replace('<head>', '<head>\n    <meta name="mesh-deploy" content="second" />'));
  const deploy = await writeServiceWorker(root, dist);
  const second = deploy.version;
  expect(second).not.toBe(first);
  const shellPath = (file: string) => new URL(file, proxy!.origin + new URL(stack!.urls.app).pathname).pathname;
  const shellPaths = new Set(deploy.files.map(shellPath));
  const shellFetches = (from: number) =>
    proxy!.requests
      .slice(from)
      .map((r) => r.split('?')[0])
      .filter((p) => shellPaths.has(p));
  // the first install downloaded the whole shell
  expect(new Set(shellFetches(0))).toEqual(shellPaths);
  const beforeUpdate = proxy.requests.length;

  // The app's own check (what its hourly and on-show checks call) finds the new version; the page is
  // not reloaded to learn of it.
  await page.evaluate(() => {
    (window as { stillSamePage?: boolean }).stillSamePage = true;
  });
  await page.evaluate(() => window.meshApp.checkForUpdate());
  // Installed and waiting: the page keeps running the first version and says an update is ready.
  await expect.poll(() => workerStatus(page), { timeout: 30_000 }).toMatchObject({ updateWaiting: true, version: first });
  expect(await page.evaluate(() => (window as { stillSamePage?: boolean }).stillSamePage)).toBe(true);
  // Only the changed file came from the server; the others were copied from the old cache.
  expect(shellFetches(beforeUpdate)).toEqual([shellPath('./')]);
  await expect(page.locator('[data-status-row="offline"] .status-value')).toHaveText('Update ready');
  expect(await shellCaches(page)).toEqual([`mesh-shell-${first}`, `mesh-shell-${second}`].sort());
  expect(await page.locator('meta[name="mesh-deploy"]').count()).toBe(0);

  // The non-blocking prompt offers the new version; its Reload lets the new worker take over and reloads.
  const prompt = page.getByTestId('update-prompt');
  await expect(prompt).toBeVisible();
  await expect(prompt).toHaveAttribute('role', 'status');
  await expect(prompt).toContainText('New version available.');
  await Promise.all([page.waitForEvent('load'), prompt.getByRole('button', { name: 'Reload' }).click()]);
  await expect(page.locator('meta[name="mesh-deploy"]')).toHaveAttribute('content', 'second');
  await expect.poll(() => workerStatus(page), { timeout: 30_000 }).toMatchObject({ state: 'active', controlled: true, updateWaiting: false, version: second });
  await expect.poll(() => shellCaches(page)).toEqual([`mesh-shell-${second}`]);
  await expect(page.getByTestId('update-prompt')).toBeHidden();
});
