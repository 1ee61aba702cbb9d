// One `npm start` stack serving a model plus one Chromium, inside the test's own network namespace
// when one can be made (so tabs link over WebRTC), shared by the tests of one spec file. Mesh
// specs call meshStackPerFile() at top level and read the handles inside their tests.
import { chromium, test, type Browser } from '@playwright/test';
import { chromiumLaunchOptions } from './browser.ts';
import { startNetns, type Netns } from './netns.ts';
import { startStack, type Stack } from './stack.ts';

export interface MeshStack {
  stack(): Stack;
  browser(): Browser;
  /** Another Chromium process, networked as the shared one (the caller closes it). */
  launch(): Promise<Browser>;
}

export function meshStackPerFile(name: string, model: string): MeshStack {
  let stack: Stack | undefined;
  let netns: Netns | null = null;
  let browser: Browser | undefined;

  test.beforeAll(async () => {
    const made = await startNetns();
    netns = made.netns;
    if (!made.netns) console.warn(`${name}: no network namespace (${made.reason}); running on loopback`);
    stack = await startStack({ args: ['--model', model, '--backend', 'ref'], ...(netns ? { wrap: netns.wrap } : {}) });
    browser = await launch();
  });

  const launch = () =>
    chromium.launch(
      netns
        ? { ...chromiumLaunchOptions(), executablePath: netns.chromiumPath }
        : chromiumLaunchOptions(['--force-webrtc-ip-handling-policy=disable_non_proxied_udp']),
    );

  test.afterEach(async ({}, testInfo) => {
    // What the companion logged (plans, failures, recoveries) explains most failures here.
    if (testInfo.status !== testInfo.expectedStatus) console.error(`--- companion stderr ---\n${stack?.log().slice(-6000)}`);
  });

  test.afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await netns?.close();
  });

  return {
    stack: () => stack ?? fail('stack'),
    browser: () => browser ?? fail('browser'),
    launch,
  };
}

function fail(what: string): never {
  throw new Error(`the mesh stack's ${what} is not started (use it inside a test)`);
}
