// Issues 5 and 6: a public mesh end to end. The companion heads a public mesh beside its private one
// (`npm start -- --mesh-name … --mesh-visibility public`); a tab opened without any link lists it on
// Home (and never the private mesh, whose announcement sits on the same relay), is warned that its
// peers are strangers, joins it as a server with one click, and is a member of it: the head is its
// connected companion, and another tab's list counts it as a second peer. A `#public=<name>` link
// opens the same mesh ready to join; a typed name that nobody heads fails with a plain reason.
import { chromium, expect, test, type Browser } from '@playwright/test';
import { decodeInvite } from '../src/mesh/invite.ts';
import { openMeshKeys } from '../src/mesh/net/open-mesh.ts';
import { gotoApp } from './support/app.ts';
import { seriousA11yViolations } from './support/axe.ts';
import { chromiumLaunchOptions } from './support/browser.ts';
import { startStack, type Stack } from './support/stack.ts';

const NAME = 'Playwright Open Mesh';

test.setTimeout(90_000);

let stack: Stack;
let browser: Browser;

test.beforeAll(async () => {
  stack = await startStack({ args: ['--skip-model', '--mesh-name', NAME, '--mesh-visibility', 'public'] });
  browser = await chromium.launch(chromiumLaunchOptions());
});

test.afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) console.error(`--- companion stderr ---\n${stack?.log().slice(-6000)}`);
});

test('Home lists the public mesh (not the private one), joins it as a server in one click, and the tab is a peer of it', async () => {
  const { meshId } = (await openMeshKeys(NAME, 'public')).access;
  const privateId = (await decodeInvite(new URL(stack.printed.invite).hash.slice('#join='.length))).meshId;
  // The printed link names the head's key (head=): a tab opened from it follows only that head.
  expect(stack.printed.mesh, 'npm start prints a mesh: line').toMatch(new RegExp(`^${stack.urls.app}/#public=playwright%20open%20mesh&head=[0-9a-f]{64}$`));

  const page = await (await browser.newContext({ viewport: { width: 1280, height: 1000 } })).newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await gotoApp(page, stack.urls.app);
  const section = page.getByTestId('public-mesh');
  await expect(section.getByTestId('public-mesh-warning')).toContainText('its peers are strangers');
  const items = section.locator('[data-mesh-id]');
  await expect(items).toHaveCount(1, { timeout: 15_000 });
  await expect(items.first()).toHaveAttribute('data-mesh-id', meshId);
  await expect(items.first()).toContainText('playwright open mesh');
  await expect(items.first()).toContainText('1 peer');
  // The private mesh announces on the same relay, sealed: a tab never sees it listed.
  await expect(section.locator(`[data-mesh-id="${privateId}"]`)).toHaveCount(0);
  const path = test.info().outputPath('home-public-meshes.png');
  await page.screenshot({ path, fullPage: true });
  await test.info().attach('home-public-meshes', { path, contentType: 'image/png' });
  expect(await seriousA11yViolations(page)).toEqual([]);

  await items.first().getByRole('button', { name: 'Join as server' }).click();
  const card = page.getByTestId('mesh-join');
  await expect(card).toHaveAttribute('data-state', 'joined', { timeout: 20_000 });
  await expect(page.getByTestId('mesh-joined-title')).toHaveText('Joined the public mesh “playwright open mesh”.');
  await expect(page.getByTestId('mesh-role')).toHaveText(/Server/);
  // Joined from the listing, which names no head key: the card says the head is unauthenticated.
  await expect(page.getByTestId('mesh-head-key')).toContainText('unauthenticated head');
  await expect(page.getByTestId('mesh-auto-joined')).toHaveCount(0);
  const joined = await page.evaluate(() => window.meshApp.mesh.state());
  if (joined.status !== 'joined') throw new Error(`expected joined, got ${joined.status}`);
  expect(joined.meshId).toBe(meshId);
  const head = joined.peers.find((p) => p.companion);
  expect(head?.member, 'the head proved membership of the mesh to the tab').toBe(true);

  // Another tab, opened from the printed link: it lists the mesh with the first tab as a second peer, and is ready to join it.
  const second = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  await gotoApp(second, stack.printed.mesh);
  await expect(second.getByTestId('mesh-join')).toHaveAttribute('data-state', 'invited');
  await expect(second.getByTestId('mesh-join-terms')).toContainText('its peers are strangers');
  // The printed link names the companion's key (head=): only that head is followed.
  await expect(second.getByTestId('mesh-head-key')).toContainText('whose key the link named');
  await expect(second.getByRole('button', { name: 'Join the mesh' })).toBeVisible();
  // Back to the list: the first tab now counts as the mesh's second peer.
  await second.getByRole('button', { name: 'Choose another mesh' }).click();
  await expect(second.getByTestId('mesh-join')).toHaveAttribute('data-state', 'none');
  await expect(second.getByTestId('public-mesh').locator(`[data-mesh-id="${meshId}"]`)).toContainText('2 peers', { timeout: 15_000 });
  // A named mesh nobody heads: typed, opened, and joining says so plainly.
  await second.getByLabel('Mesh name').fill('Nobody Heads This');
  await second.getByRole('button', { name: 'Open mesh' }).click();
  await expect(second.getByTestId('mesh-join')).toHaveAttribute('data-state', 'invited');
  await second.getByRole('button', { name: 'Join the mesh' }).click();
  await expect(second.getByTestId('mesh-join')).toHaveAttribute('data-state', 'failed', { timeout: 15_000 });
  await expect(second.getByRole('alert')).toContainText('no companion heads the named mesh “nobody heads this”');
  expect(errors).toEqual([]);
});
