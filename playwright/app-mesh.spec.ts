// Issue 6 with a real mesh of tabs: the companion (tiny-llama-4l-f32) plans the model across three
// server tabs that opened its invite link with budgets too small for the whole model. A fourth page,
// not joined (the companion's API serves through the mesh), chats in the Playground: the reply
// streams and its "served by" line names the tab peers and their layers. A server tab's Dashboard
// shows the three server peers with their layers, the plan as a bar of three segments, and the
// header pill says which layers the tab serves, the companion badged apart from the tabs, each
// peer's round trip where measured. Screenshots attached; axe scan of the Dashboard.
// Runs in its own network namespace like mesh-pipeline.spec.ts (WebRTC between tabs).
import { expect, test, type Page } from '@playwright/test';
import { seriousA11yViolations } from './support/axe.ts';
import { gotoApp } from './support/app.ts';
import { meshStackPerFile } from './support/mesh-stack.ts';

const MODEL = 'tiny-llama-4l-f32';
/** Two of its ~197 KB layers per tab at most: the plan must split the model across the tabs. */
const BUDGET = 450_000;

test.setTimeout(90_000);

const mesh = meshStackPerFile('app-mesh', MODEL);

interface PlanStage {
  peerId: string;
  layers: { start: number; end: number };
  ready: boolean;
}
interface MeshState {
  status: string;
  peerId: string;
  stage?: { status: string; layers?: { start: number; end: number } };
  plan?: { model: string; layerCount: number; stages: PlanStage[] };
}

const meshState = (page: Page) => page.evaluate(() => (window as unknown as { meshApp: { mesh: { state(): unknown } } }).meshApp.mesh.state() as MeshState);

async function shoot(page: Page, name: string): Promise<void> {
  const path = test.info().outputPath(`${name}.png`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path, fullPage: true });
  await test.info().attach(name, { path, contentType: 'image/png' });
}

test('a playground reply streams through three tabs, and the dashboard shows them and the plan', async () => {
  const errors: string[] = [];
  const tabs: Page[] = [];
  for (let i = 0; i < 3; i++) {
    const page = await (await mesh.browser().newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('pageerror', (error) => errors.push(`tab ${i}: ${error.message}`));
    await gotoApp(page, `${mesh.stack().printed.invite}&auto=1&role=server&budget=${BUDGET}`);
    tabs.push(page);
  }
  // Each tab's mesh state carries the companion's three-stage plan, every stage ready.
  await expect
    .poll(
      async () => {
        const states = await Promise.all(tabs.map(meshState));
        const plan = states[0].plan;
        if (!plan || !states.every((s) => s.stage?.status === 'ready')) return 'loading';
        return `${plan.stages.length} stages, ready ${plan.stages.filter((s) => s.ready).length}`;
      },
      { timeout: 45_000, message: 'the tabs should hold a three-stage plan, all ready' },
    )
    .toBe('3 stages, ready 3');
  // Joined by the link's auto=1, with no click: each tab says so plainly, beside Leave.
  await expect(tabs[0].getByTestId('mesh-auto-joined')).toContainText('joined by itself');
  await expect(tabs[0].getByTestId('mesh-leave')).toBeVisible();
  const states = await Promise.all(tabs.map(meshState));
  const ids = states.map((s) => s.peerId);
  const plan = states[0].plan!;
  expect(plan.model).toBe(MODEL);
  expect(new Set(plan.stages.map((s) => s.peerId))).toEqual(new Set(ids));
  // The plan each tab shows agrees with the layers each tab loaded.
  for (const s of states) expect(plan.stages.find((p) => p.peerId === s.peerId)!.layers).toEqual(s.stage!.layers);

  // A fourth page, not joined: its Playground talks to the companion, which runs the tabs.
  const client = await (await mesh.browser().newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  client.on('pageerror', (error) => errors.push(`client: ${error.message}`));
  await gotoApp(client, `${mesh.stack().urls.app}/#/playground`);
  await expect(client.getByLabel('Model', { exact: true })).toHaveValue(MODEL);
  await client.getByLabel('Max tokens').fill('32');
  const input = client.getByRole('textbox', { name: 'Message' });
  // The companion may still be waiting for the tabs' ready gossip: ask again until it routes through them.
  const servedBy = client.getByTestId('served-by').last();
  await expect
    .poll(
      async () => {
        await input.fill('Tell me about meshes.');
        await input.press('Enter');
        await expect(client.getByTestId('reply-meta').last()).toHaveAttribute('data-finish', /.+/, { timeout: 30_000 });
        return servedBy.textContent();
      },
      { timeout: 45_000, message: 'the reply should be served by the three tabs' },
    )
    .not.toContain('companion');
  const served = (await servedBy.textContent())!;
  for (const stage of plan.stages) expect(served).toContain(`${stage.peerId} (${range(stage.layers)})`);
  console.log(`app-mesh: served by "${served}"`);
  await shoot(client, 'playground-mesh');

  // The Dashboard of the first tab: its peers with their planned layers, the plan bar, the pill.
  const tab = tabs[0];
  await tab.getByRole('link', { name: 'Dashboard' }).click();
  await expect(tab.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  const peers = tab.getByTestId('dash-peers');
  for (const stage of plan.stages) {
    await expect(peers.locator(`tr[data-peer="${stage.peerId}"] [data-cell="layers"]`)).toHaveText(range(stage.layers));
  }
  // Exactly three peers run layers (the companion is a peer too, but runs none in this plan).
  await expect(peers.locator('[data-cell="layers"]').filter({ hasText: /^layers? \d/ })).toHaveCount(3);
  // The companion (the invite's bootstrap peer) is badged and listed first; the others are tabs.
  const companionId = mesh.stack().urls.libp2p.split('/p2p/')[1];
  await expect(peers.locator('tbody tr[data-kind]').first()).toHaveAttribute('data-peer', companionId);
  await expect(peers.locator(`tr[data-peer="${companionId}"]`).getByTestId('peer-companion')).toHaveText('companion');
  await expect(peers.locator('tr[data-kind="tab"]')).toHaveCount(2);
  // Each tab's round trip to the companion, in ms once measured (tabs gossip it), "–" before.
  for (const cell of await peers.locator('[data-cell="rtt"]').allTextContents()) expect(cell).toMatch(/^(–|<1 ms|\d+(\.\d)? ms)$/);
  await expect(peers.locator('tr[data-kind="tab"] [data-cell="rtt"]').filter({ hasText: / ms$/ }).first()).toBeVisible({ timeout: 15_000 });
  const bar = tab.getByTestId('dash-plan').getByRole('img');
  const segments = bar.locator('.plan-seg');
  await expect(segments).toHaveCount(3);
  await expect(segments.locator('.plan-seg-range')).toHaveText(plan.stages.map((s) => range(s.layers)));
  await expect(segments.filter({ hasText: 'This tab' })).toHaveAttribute('data-peer', ids[0]);
  await expect(tab.locator('.network-pill')).toHaveText(new RegExp(`^Serving ${range(states[0].stage!.layers!)} · \\d+ peers$`));
  expect(await seriousA11yViolations(tab)).toEqual([]);
  await shoot(tab, 'dashboard-mesh');
  expect(errors).toEqual([]);
});

/** How the UI reads a half-open range (mesh-describe.ts layerRangeText). */
function range(layers: { start: number; end: number }): string {
  return layers.end - layers.start <= 1 ? `layer ${layers.start}` : `layers ${layers.start}–${layers.end - 1}`;
}
