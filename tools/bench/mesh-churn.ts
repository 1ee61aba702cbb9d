// The churn figures of `npm run bench:mesh`: cold3_s, the seconds from launching three Chromium
// processes as server tabs (weights cached in their profiles, the companion already heading the
// mesh) to the first answer split across all three; and kill_delay_ms, what closing one of those
// processes mid-answer adds to that answer. Budgets leave no slack (4 + 2 + 2 layers of an 8-layer
// model), as a mesh that just fits. Same network namespace and stack as the join measurement.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumLaunchOptions } from '../../playwright/support/browser.ts';
import { coldStart, killMidAnswer, stepsText, type Tab } from '../../playwright/support/mesh-churn.ts';
import { startNetns } from '../../playwright/support/netns.ts';
import { startStack } from '../../playwright/support/stack.ts';

export interface Churn {
  readonly cold3S: number;
  readonly killDelayMs: number;
  readonly lines: string[];
}

/** `log`: the companion's log lines as they come, stamped with seconds since the measured launch (negative: before it). */
export async function measureChurn(model: string, budgets: readonly number[], o: { readonly log?: (line: string) => void } = {}): Promise<Churn> {
  const made = await startNetns();
  const netns = made.netns;
  const options = netns ? { ...chromiumLaunchOptions(), executablePath: netns.chromiumPath } : chromiumLaunchOptions();
  const profiles = budgets.map((_, i) => mkdtempSync(join(tmpdir(), `mesh-churn-${i}-`)));
  const stack = await startStack({ args: ['--model', model], ...(netns ? { wrap: netns.wrap } : {}) });
  const browser = await chromium.launch(options);
  let launchedAt = Date.now();
  let seen = 0;
  const follow = setInterval(() => {
    const text = stack.log();
    const end = text.lastIndexOf('\n') + 1;
    if (!o.log || end <= seen) return;
    const stamp = ((Date.now() - launchedAt) / 1000).toFixed(1);
    for (const line of text.slice(seen, end).split('\n').filter(Boolean)) o.log(`${stamp} s ${line}`);
    seen = end;
  }, 100);
  try {
    const client = await (await browser.newContext()).newPage();
    await client.goto(stack.urls.app);
    const ask = { client, api: stack.urls.api, model, prompt: 'Once upon a time', maxTokens: 32 };
    const launch = async (i: number): Promise<Tab> => {
      const context = await chromium.launchPersistentContext(profiles[i], options);
      return { page: context.pages()[0] ?? (await context.newPage()), close: () => context.close() };
    };
    const run = { ...ask, invite: stack.printed.invite, budgets, launch };
    // Warm-up: each profile downloads its layers once, then every process closes.
    const warm = await coldStart(run);
    await Promise.all(warm.tabs.map((t) => t.close()));
    await client.waitForTimeout(3000); // the companion sees them leave and serves alone again
    launchedAt = Date.now();
    o.log?.('0.0 s --- the measured launch');
    const start = await coldStart(run);
    try {
      const failed = start.answers.filter((a) => a.status !== 200).length;
      const kill = await killMidAnswer(ask, start.tabs[1]);
      return {
        cold3S: start.cold3S,
        killDelayMs: kill.faulted.status === 200 && kill.faulted.text === kill.clean.text ? kill.killDelayMs : Number.NaN,
        lines: [
          `churn (${netns ? 'own network namespace, WebRTC between tabs' : `loopback: ${made.reason}`}): 3 Chromium processes launched at once, weights cached, budgets ${budgets.join('/')} B: ` +
            `first answer split across all three ${start.cold3S.toFixed(2)} s after launch (warm-up with nothing cached: ${warm.cold3S.toFixed(2)} s); ${start.answers.length} answers meanwhile, ${failed} failed`,
          `        s after launch: ${stepsText(start.steps)}`,
          `        one process closed after ${Math.floor(ask.maxTokens / 4)} of ${ask.maxTokens} tokens: ${Math.round(kill.clean.ms)} ms undisturbed, ${Math.round(kill.faulted.ms)} ms with the kill (${kill.faulted.status}, text ${kill.faulted.text === kill.clean.text ? 'identical' : 'DIFFERENT'})`,
        ],
      };
    } finally {
      await Promise.all(start.tabs.map((t) => t.close().catch(() => {})));
    }
  } finally {
    clearInterval(follow);
    await browser.close().catch(() => {});
    await stack.stop().catch(() => {});
    await netns?.close().catch(() => {});
    for (const dir of profiles) rmSync(dir, { recursive: true, force: true });
  }
}
