// Opening the app in a test: src/app/main.ts loads the app's chunk with a dynamic import, so
// `window.meshApp` appears shortly after the load event, not with it.
import type { Page } from '@playwright/test';

export async function gotoApp(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForFunction(() => 'meshApp' in window, undefined, { timeout: 30_000 });
}
