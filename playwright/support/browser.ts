// How tests start Debian's Chromium: no browser download works here, so playwright-core drives
// /usr/bin/chromium with the flags found to work on these machines (see ENVIRONMENT.md).
import type { LaunchOptions } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function chromiumLaunchOptions(extraArgs: string[] = []): LaunchOptions {
  return {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--enable-unsafe-webgpu',
      '--enable-features=Vulkan',
      ...extraArgs,
    ],
  };
}
