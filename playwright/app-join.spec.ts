// Issues 5 and 6: the Join experience. The companion (serving tiny-llama-4l-f32) prints an invite; a
// tab opens it WITHOUT auto=1 and sees, on Home, what joining means and one Join action (axe-clean,
// screenshot attached); the person sets a budget in the Contribute card, joins as a server, and the
// Mesh card shows the live status: joined, the companion as a connected peer, and the layers this
// tab serves. Leave returns the tab to the invitation and the Contribute card to paused.
import { expect, test, type Page } from '@playwright/test';
import { seriousA11yViolations } from './support/axe.ts';
import { meshStackPerFile } from './support/mesh-stack.ts';

const MODEL = 'tiny-llama-4l-f32';

test.setTimeout(90_000);

const mesh = meshStackPerFile('app-join', MODEL);

async function shot(page: Page, name: string): Promise<void> {
  const info = test.info();
  const path = info.outputPath(`${name}.png`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path, fullPage: true });
  await info.attach(name, { path, contentType: 'image/png' });
}

test('an invite link explains joining, joins as a server on click, shows the live status, and leaves', async () => {
  const invite = mesh.stack().printed.invite;
  expect(invite, 'npm start prints an invite: line').toMatch(/#join=/);
  const page = await (await mesh.browser().newContext()).newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.goto(invite);

  // Invited, not joined: the terms in plain words, a role choice and one Join action.
  const card = page.getByTestId('mesh-join');
  await expect(card).toHaveAttribute('data-state', 'invited');
  await expect(page.getByTestId('mesh-join-terms')).toContainText('lends compute');
  await expect(page.getByTestId('mesh-join-terms')).toContainText('Prompts and replies pass through the peers that serve them');
  await expect(page.getByTestId('mesh-join-terms')).toContainText('leave at any time');
  await expect(page.getByRole('radio', { name: /^Server/ })).toBeChecked();
  await expect(page.getByRole('button', { name: 'Join the mesh' })).toBeVisible();
  await expect(page.getByLabel(/Invite link/)).toHaveValue(new RegExp(`#join=${new URL(invite).hash.slice(6)}`));
  await expect(page.getByTestId('contribute-state')).toHaveAttribute('data-state', 'paused');
  expect(await page.evaluate(() => window.meshApp.mesh.state().status)).toBe('invited');
  await shot(page, 'join-invited');
  expect(await seriousA11yViolations(page)).toEqual([]);

  // The smallest budget the Contribute card offers, then Join (by keyboard) as a server.
  await page.getByLabel('Memory it may use').fill('256');
  await expect(page.getByTestId('mesh-join-terms')).toContainText('at most 256 MB');
  await page.getByRole('button', { name: 'Join the mesh' }).focus();
  await page.keyboard.press('Enter');
  await expect(card).toHaveAttribute('data-state', 'joined', { timeout: 20_000 });
  await expect(page.getByTestId('mesh-role')).toHaveText(/Server/);

  // The companion is a connected peer: its peer id is the one in the invite's bootstrap address.
  const companionId = mesh.stack().urls.libp2p.split('/p2p/')[1];
  const companionRow = page.locator(`[data-testid="mesh-peers"] li[data-peer="${companionId}"]`);
  await expect(companionRow).toBeVisible({ timeout: 20_000 });
  await expect(companionRow).toContainText('websocket');
  // The plan gives this tab layers of the companion's model, and the card says which.
  await expect(page.getByTestId('mesh-layers')).toHaveText(new RegExp(`^serving layers? \\d+(–\\d+)? of ${MODEL}$`), { timeout: 30_000 });
  const stage = await page.evaluate(() => {
    const s = window.meshApp.mesh.state();
    return 'stage' in s ? s.stage : undefined;
  });
  expect(stage?.status).toBe('ready');
  expect(stage?.layers?.end).toBeGreaterThan(stage?.layers?.start ?? 0);
  await expect(page.getByTestId('contribute-state')).toHaveAttribute('data-kind', 'serving');
  await expect(page.getByTestId('contribute-state')).toContainText(`serving layer`);
  await expect(page.getByTestId('contribute-toggle')).toHaveText('Pause');
  await shot(page, 'join-joined');
  expect(await seriousA11yViolations(page)).toEqual([]);

  const peerId = await page.evaluate(() => (window.meshApp.mesh.state() as { peerId: string }).peerId);
  // Leave: back to the invitation, nothing lent.
  await page.getByRole('button', { name: 'Leave the mesh' }).click();
  await expect(card).toHaveAttribute('data-state', 'invited', { timeout: 10_000 });
  await expect(page.getByTestId('contribute-state')).toHaveAttribute('data-state', 'paused');

  // Resuming from the Contribute card joins again with the same peer id; Pause leaves.
  await page.getByTestId('contribute-toggle').click();
  await expect(card).toHaveAttribute('data-state', 'joined', { timeout: 20_000 });
  expect(await page.evaluate(() => (window.meshApp.mesh.state() as { peerId: string }).peerId)).toBe(peerId);
  await page.getByTestId('contribute-toggle').click();
  await expect(card).toHaveAttribute('data-state', 'invited', { timeout: 10_000 });
  expect(errors).toEqual([]);
});
