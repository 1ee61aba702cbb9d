// Issue 6: the embeddable widget on a page of another site (http://localhost:<port>, while the app is
// http://127.0.0.1:<port>: another origin and another site, so the frame is storage-partitioned and not
// cross-origin isolated). The page's CSS is hostile; the widget holds a conversation streamed from the
// companion through its frame, keeps its look, leaks no style, works by keyboard and passes axe.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { expect, test, type Page } from '@playwright/test';
import { startStack, type Stack } from './support/stack.ts';

const ACCENT = '#5b3cc4';
const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** CSS a careless or hostile site might ship: it must not reach into the widget. */
const HOSTILE_CSS = `
  html { font-size: 31px; }
  * { font-family: 'Comic Sans MS', cursive !important; color: #ff0000 !important; letter-spacing: 3px !important; box-sizing: content-box !important; }
  button { background: #ff69b4 !important; border-radius: 0 !important; padding: 30px !important; }
  p, h2, textarea { font-size: 40px !important; line-height: 3 !important; }
  div, section { border: 5px dashed lime !important; }
  iframe { display: block !important; width: 800px !important; height: 600px !important; }
  mesh-llm-widget { display: none !important; position: static !important; opacity: 0.1 !important; }
  /* Page elements that share the widget's class names keep the page's own look. */
  .launcher { border-radius: 3px !important; width: 200px; height: 30px; }
`;

function hostPage(appUrl: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme Garden Supplies</title><style>${HOSTILE_CSS}</style></head>
<body><main><h1>Acme Garden Supplies</h1><p class="msg bot" id="page-text">Spring sale on seeds and tools.</p><div class="launcher" id="page-launcher">a page div</div>
<button id="page-button">Subscribe</button></main>
<script src="${appUrl}/widget.js" data-title="Acme helper" data-accent="${ACCENT}" data-greeting="Hello! How can I help with your garden?" data-max-tokens="24" async></script>
</body></html>`;
}

let stack: Stack | undefined;
let host: Server | undefined;
let hostUrl = '';
let otherSiteUrl = '';

test.beforeAll(async () => {
  // The host site listens first: the companion must be told which site may embed its chat.
  let html = '';
  host = createServer((req, res) => {
    res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' }).end(req.url === '/' ? html : 'not found');
  });
  await new Promise<void>((resolve) => host!.listen(0, '127.0.0.1', resolve));
  const port = (host.address() as AddressInfo).port;
  hostUrl = `http://localhost:${port}/`;
  otherSiteUrl = `http://127.0.0.1:${port}/`; // the same page on an origin the companion did not allow
  stack = await startStack({ args: ['--embed-origin', `http://localhost:${port}`] });
  html = hostPage(stack.urls.app);
});
test.afterAll(async () => {
  host?.closeAllConnections();
  await new Promise((resolve) => host?.close(resolve) ?? resolve(undefined));
  await stack?.stop();
});
test.afterEach(async ({}, testInfo) => {
  if (stack && testInfo.status !== testInfo.expectedStatus) await testInfo.attach('npm-start.log', { body: stack.log(), contentType: 'text/plain' });
});

const style = (page: Page, selector: string, prop: string) => page.locator(selector).evaluate((el, p) => getComputedStyle(el).getPropertyValue(p), prop);

async function widgetA11yViolations(page: Page) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: axePath });
  return page.evaluate(async () => {
    type Result = { violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }> };
    const axe = (window as unknown as { axe: { run(context: unknown, options: unknown): Promise<Result> } }).axe;
    // The widget only: the host page is someone else's (and its hostile CSS fails contrast on purpose).
    const result = await axe.run({ include: [{ fromShadowDom: ['mesh-llm-widget', '.root'] }] }, { iframes: false });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, help: v.help, targets: v.nodes.map((n) => JSON.stringify(n.target)) }));
  });
}

test('the widget on another site holds a conversation through its frame, with no style leaks', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.setViewportSize({ width: 1100, height: 800 });
  await page.goto(hostUrl);

  const launcher = page.getByTestId('widget-launcher');
  await expect(launcher).toBeVisible();
  await expect(launcher).toHaveAccessibleName('Open chat: Acme helper');
  // No frame until someone opens the chat.
  expect(page.frames()).toHaveLength(1);

  // The host page itself may not call the companion (its CORS admits only the app): the frame is the way in.
  const direct = await page.evaluate(
    async (api) =>
      fetch(`${api}/v1/models`).then(
        (r) => `status ${r.status}`,
        (e: Error) => `failed: ${e.name}`,
      ),
    stack!.urls.api,
  );
  expect(direct).not.toBe('status 200');

  // Keyboard: Enter on the launcher opens the panel and puts focus in the message box.
  await launcher.focus();
  await page.keyboard.press('Enter');
  const panel = page.getByRole('dialog', { name: 'Acme helper' });
  await expect(panel).toBeVisible();
  await expect(launcher).toHaveAttribute('aria-expanded', 'true');
  const input = page.getByRole('textbox', { name: 'Message' });
  await expect(input).toBeFocused();
  await expect(page.getByTestId('widget-state')).toHaveAttribute('data-state', 'ready', { timeout: 30_000 });

  const frame = page.frames().find((f) => f !== page.mainFrame());
  expect(frame?.url()).toBe(`${stack!.urls.app}/?embed=widget`);
  // A third-party frame: not cross-origin isolated, so it is an API client, not an engine.
  expect(await frame!.evaluate(() => [crossOriginIsolated, document.documentElement.dataset.embed])).toEqual([false, 'widget']);

  // Record the reply's text as it streams: several growing versions, not one at the end.
  await page.evaluate(() => {
    const log = document.querySelector('mesh-llm-widget')!.shadowRoot!.querySelector('[data-testid="widget-log"]')!;
    const seen: string[] = [];
    (window as unknown as { widgetUpdates: string[] }).widgetUpdates = seen;
    new MutationObserver(() => {
      const text = log.querySelector('[data-testid="widget-reply"]')?.textContent;
      if (text) seen.push(text);
    }).observe(log, { subtree: true, childList: true, characterData: true });
  });
  await input.fill('Which seeds grow fastest?');
  await input.press('Enter');
  await expect(page.getByTestId('widget-user-message')).toHaveText('Which seeds grow fastest?');
  const reply = page.getByTestId('widget-reply');
  await expect(reply).not.toHaveAttribute('data-streaming', 'true', { timeout: 60_000 });
  const text = (await reply.textContent()) ?? '';
  expect(text.length).toBeGreaterThan(0);
  const updates = [...new Set(await page.evaluate(() => (window as unknown as { widgetUpdates: string[] }).widgetUpdates))];
  expect(updates.length).toBeGreaterThanOrEqual(5);
  for (let i = 1; i < updates.length; i++) expect(updates[i].startsWith(updates[i - 1])).toBe(true);
  expect(updates.at(-1)).toBe(text);
  await expect(page.getByTestId('widget-send')).toHaveAccessibleName('Send');

  // Inward: the page's CSS changed nothing in the widget.
  const root = 'mesh-llm-widget >> .root';
  expect(await style(page, 'mesh-llm-widget', 'display')).toBe('block');
  expect(await style(page, 'mesh-llm-widget', 'position')).toBe('fixed');
  expect(await style(page, 'mesh-llm-widget', 'opacity')).toBe('1');
  expect(await style(page, root, 'color')).toBe('rgb(20, 33, 43)');
  expect(await style(page, root, 'font-family')).not.toContain('Comic');
  expect(await style(page, root, 'letter-spacing')).toBe('normal');
  expect(await style(page, 'mesh-llm-widget >> .launcher', 'background-color')).toBe('rgb(91, 60, 196)');
  expect(await style(page, 'mesh-llm-widget >> .launcher', 'border-radius')).toBe('50%');
  expect(await style(page, 'mesh-llm-widget >> .title', 'font-size')).toBe('16px');
  expect(await style(page, 'mesh-llm-widget >> .panel', 'border-top-style')).toBe('solid');
  expect(await page.locator('mesh-llm-widget >> iframe').isVisible()).toBe(false);
  // Outward: the widget's rules did not touch the page's elements of the same class names.
  expect(await style(page, '#page-launcher', 'border-radius')).toBe('3px');
  expect(await style(page, '#page-text', 'background-color')).toBe('rgba(0, 0, 0, 0)');
  expect(await style(page, '#page-text', 'font-size')).toBe('40px');
  expect(await style(page, '#page-button', 'background-color')).toBe('rgb(255, 105, 180)');

  expect(await widgetA11yViolations(page)).toEqual([]);
  const path = test.info().outputPath('widget.png');
  await page.screenshot({ path });
  await test.info().attach('widget', { path, contentType: 'image/png' });

  // Escape closes the panel and gives focus back to the launcher.
  await input.press('Escape');
  await expect(panel).toBeHidden();
  await expect(launcher).toBeFocused();
  await expect(launcher).toHaveAttribute('aria-expanded', 'false');
  expect(await widgetA11yViolations(page)).toEqual([]);
  expect(errors).toEqual([]);
});

test('the frame ignores messages outside the widget protocol', async ({ page }) => {
  await page.goto(hostUrl);
  await page.getByTestId('widget-launcher').click();
  await expect(page.getByTestId('widget-state')).toHaveAttribute('data-state', 'ready', { timeout: 30_000 });
  // Messages of another channel or version (another script on the page, an old widget) get no answer.
  const answered = await page.evaluate(async () => {
    const frame = document.querySelector('mesh-llm-widget')!.shadowRoot!.querySelector('iframe')!;
    const origin = new URL(frame.src).origin;
    const replies: unknown[] = [];
    addEventListener('message', (e) => {
      if (e.source === frame.contentWindow) replies.push(e.data);
    });
    // Not an embedder-shaped message: wrong channel, then wrong version.
    frame.contentWindow!.postMessage({ channel: 'other', v: 1, type: 'hello' }, origin);
    frame.contentWindow!.postMessage({ channel: 'mesh-llm-widget', v: 99, type: 'hello' }, origin);
    await new Promise((r) => setTimeout(r, 800));
    return replies.length;
  });
  expect(answered).toBe(0);
});

test('a site the companion did not allow cannot use the widget', async ({ page }) => {
  await page.goto(otherSiteUrl);
  await page.getByTestId('widget-launcher').click();
  // The app's frame-ancestors keeps the browser from loading the frame at all (the frame's own
  // policy check is the second line): the widget gives up on it as unreachable.
  await expect(page.getByTestId('widget-state')).toHaveAttribute('data-state', 'down', { timeout: 40_000 });
  await expect(page.getByTestId('widget-state')).toContainText('Cannot reach the chat service');
});
