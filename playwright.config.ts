import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions } from './playwright/support/browser.ts';

export default defineConfig({
  testDir: 'playwright',
  testMatch: '**/*.spec.ts',
  outputDir: 'test-results',
  timeout: 180_000,
  workers: 1,
  retries: 0,
  use: {
    launchOptions: chromiumLaunchOptions(),
    screenshot: 'only-on-failure',
  },
  projects: [{ name: 'chromium' }],
});
