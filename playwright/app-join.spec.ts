// Issues 5 and 6: the Join experience. The companion (serving tiny-llama-4l-f32) prints an invite; a
// tab opens it WITHOUT auto=1 and sees, on Home, what joining means and one Join action (axe-clean,
// screenshot attached); the person sets a budget in the Contribute card, joins as a server, and the
// Mesh card shows the live status: joined, the companion as a connected peer, and the layers this
// tab serves. Leave returns the tab to the invitation and the Contribute card to paused.
// Opened without an invite, Home offers this machine's private mesh: its invite as a link and a QR
// code (read back here by a QR decoder from the drawn pixels), and a field to open a pasted invite;
// a second device opening the link joins the same mesh.
import { expect, test, type Page } from '@playwright/test';
import jsQR from 'jsqr';
import { decodeInvite } from '../src/mesh/invite.ts';
import { gotoApp } from './support/app.ts';
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
  await expect(page.getByTestId('mesh-join-terms')).toContainText('at most 256 MiB');
  await page.getByRole('button', { name: 'Join the mesh' }).focus();
  await page.keyboard.press('Enter');
  await expect(card).toHaveAttribute('data-state', 'joined', { timeout: 20_000 });
  await expect(page.getByTestId('mesh-role')).toHaveText(/Server/);

  // The companion is a connected peer: its peer id is the one in the invite's bootstrap address.
  const companionId = mesh.stack().urls.libp2p.split('/p2p/')[1];
  const companionRow = page.locator(`[data-testid="mesh-peers"] li[data-peer="${companionId}"]`);
  await expect(companionRow).toBeVisible({ timeout: 20_000 });
  // A page on http://127.0.0.1 is a secure context: it takes the companion's WebTransport bridge.
  await expect(companionRow).toContainText('webtransport');
  await expect(companionRow).toContainText('the companion, which heads the mesh');
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

/** The invite QR code as the browser draws it, read back by jsQR (an independent decoder). */
async function readQrCode(page: Page): Promise<string | undefined> {
  const { size, grey } = await page
    .getByTestId('mesh-invite-qr')
    .locator('svg')
    .evaluate(async (svg) => {
      const size = (svg as SVGSVGElement).viewBox.baseVal.width * 3;
      const image = new Image();
      image.src = URL.createObjectURL(new Blob([svg.outerHTML], { type: 'image/svg+xml' }));
      await image.decode();
      const ctx = new OffscreenCanvas(size, size).getContext('2d')!;
      ctx.drawImage(image, 0, 0, size, size);
      // One byte a pixel (the red channel of black and white), as a Latin-1 string: quick to hand over.
      const rgba = ctx.getImageData(0, 0, size, size).data;
      let grey = '';
      for (let i = 0; i < rgba.length; i += 4) grey += String.fromCharCode(rgba[i]);
      return { size, grey };
    });
  const rgba = new Uint8ClampedArray(size * size * 4);
  for (let i = 0; i < size * size; i++) rgba.set([grey.charCodeAt(i), grey.charCodeAt(i), grey.charCodeAt(i), 255], i * 4);
  return jsQR(rgba, size, size)?.data;
}

test('without an invite, Home shares this machine’s private mesh as a link and a QR code, opens a pasted invite, and a second device joins it', async () => {
  const printed = await decodeInvite(new URL(mesh.stack().printed.invite).hash.replace(/^#join=/, '').split('&')[0]);
  const page = await (await mesh.browser().newContext({ viewport: { width: 1280, height: 1000 } })).newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await gotoApp(page, mesh.stack().urls.app);

  // Your private mesh: the companion gives its invite to this machine's pages; the link decodes to it.
  const machine = page.getByTestId('mesh-machine');
  await expect(machine).toBeVisible({ timeout: 10_000 });
  const link = await machine.getByTestId('mesh-invite-link').inputValue();
  const invite = await decodeInvite(new URL(link).hash.replace(/^#join=/, ''));
  expect(invite.meshId).toBe(printed.meshId);
  expect(invite.bootstrap).toEqual(printed.bootstrap);
  // The QR code, drawn by the browser, reads back as exactly that link.
  expect(await readQrCode(page)).toBe(link);
  await expect(machine.getByTestId('mesh-invite-local')).toContainText('only this computer reaches');
  await shot(page, 'home-private-mesh');
  expect(await seriousA11yViolations(page)).toEqual([]);

  // A damaged paste is refused with the reason; the whole link opens the invitation.
  const paste = page.getByLabel('Paste an invite link');
  await paste.fill(link.slice(0, -6));
  await paste.press('Enter');
  await expect(page.getByRole('alert')).toContainText('cannot be used');
  await expect(paste).toHaveAttribute('aria-invalid', 'true');
  await page.getByLabel('Paste an invite link').fill(link);
  await page.getByTestId('mesh-paste-open').click();
  await expect(page.getByTestId('mesh-join')).toHaveAttribute('data-state', 'invited');
  await expect(page.getByRole('button', { name: 'Join the mesh' })).toBeFocused();

  // A second device (its own browser profile) opens the link and joins the same mesh as a client.
  const second = await (await mesh.browser().newContext({ viewport: { width: 390, height: 844 } })).newPage();
  second.on('pageerror', (error) => errors.push(`second: ${error.message}`));
  await gotoApp(second, link);
  await second.getByRole('radio', { name: /^Client/ }).check();
  await second.getByRole('button', { name: 'Join the mesh' }).click();
  await expect(second.getByTestId('mesh-join')).toHaveAttribute('data-state', 'joined', { timeout: 20_000 });
  expect(await second.evaluate(() => (window.meshApp.mesh.state() as { meshId: string }).meshId)).toBe(printed.meshId);
  // Joined, it shares the same invite (to bring a third device) as a link and a QR code.
  expect(await readQrCode(second)).toBe(link);
  await shot(second, 'home-joined-phone');
  expect(await seriousA11yViolations(second)).toEqual([]);
  await second.getByRole('button', { name: 'Leave the mesh' }).click();
  expect(errors).toEqual([]);
});
