// Issue 6: the Dashboard against the real `npm start` stack. Not joined to a mesh, it says so; it shows
// the companion's model (from /health) and its layers as one plan segment; after a Playground reply
// the throughput plot has a point with that reply's speed. Axe scan and a screenshot.
import { expect, test } from '@playwright/test';
import { seriousA11yViolations } from './support/axe.ts';
import { stackPerFile } from './support/stack-per-file.ts';

const MODEL = 'tiny-llama-q8_0';
const stack = stackPerFile();

test('dashboard: companion model, honest empty states, throughput after a conversation', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.setViewportSize({ width: 1280, height: 900 });
  const health = (await (await fetch(`${stack().urls.api}/health`)).json()) as { models: { id: string; layers: number }[] };
  const layers = health.models.find((m) => m.id === MODEL)!.layers;

  await page.goto(`${stack().urls.app}/#/dashboard`);
  await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  const models = page.getByTestId('dash-models');
  await expect(models.locator(`[data-model="${MODEL}"]`)).toContainText(`${layers} layers`);
  await expect(page.getByTestId('dash-peers')).toContainText('This tab is not in a mesh.');
  await expect(page.getByTestId('dash-throughput')).toContainText('No replies yet.');
  await expect(page.getByTestId('dash-errors')).toContainText('No errors.');
  const bar = page.getByTestId('dash-plan').getByRole('img');
  await expect(bar).toHaveAccessibleName(`${MODEL}: Companion (cpu) runs layers 0 to ${layers - 1}`);
  await expect(page.locator('[data-tile="mesh"] .dash-tile-value')).toHaveText('Not joined');

  // A conversation in the Playground (same page: the store lives in this tab).
  await page.getByRole('link', { name: 'Playground' }).click();
  await expect(page.getByLabel('Model', { exact: true })).toHaveValue(MODEL);
  await page.getByLabel('Max tokens').fill('24');
  const input = page.getByRole('textbox', { name: 'Message' });
  for (const question of ['How do meshes share work?', 'And how fast is it?']) {
    await input.fill(question);
    await input.press('Enter');
    await expect(page.getByTestId('reply-meta').last()).toHaveAttribute('data-finish', /.+/, { timeout: 60_000 });
  }
  const speeds = (await page.getByTestId('tokens-per-second').allTextContents()).map((t) => Number.parseFloat(t));

  await page.getByRole('link', { name: 'Dashboard' }).click();
  const dots = page.getByTestId('dash-throughput').locator('.plot-dot');
  await expect(dots).toHaveCount(2);
  // The plotted values are the replies' own speeds, in order.
  const plotted = await dots.evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-value'))));
  // (the playground shows one decimal: a plotted 345.35 may read 345.3 there)
  expect(plotted).toHaveLength(speeds.length);
  plotted.forEach((v, i) => expect(Math.abs(v - speeds[i])).toBeLessThanOrEqual(0.05 + 1e-9));
  await expect(page.locator('[data-tile="speed"] .dash-tile-value')).toHaveText(`${speeds[1].toFixed(1)} tok/s`);

  expect(await seriousA11yViolations(page)).toEqual([]);
  const path = test.info().outputPath('dashboard.png');
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path, fullPage: true });
  await test.info().attach('dashboard', { path, contentType: 'image/png' });
  expect(errors).toEqual([]);
});
