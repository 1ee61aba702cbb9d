// The join time of `npm run bench:mesh`, measured on a real page load: the `npm start` stack and
// Debian's Chromium run inside a network namespace of their own (playwright/support/netns.ts), so
// tabs link to each other over WebRTC as they would on a LAN. Tab A holds half the model; tab B,
// in another browser profile, joins, gets the other half planned, loads it and serves (the
// warm-up: its layers go into that profile's weight cache), and closes. Then, a few times, B's
// profile opens the invite link again in a fresh page (a tab coming back: same peer id, weights
// cached), and the page itself times, from navigation start (performance.now() = 0), each step
// until it serves its layers: its stage ready with the range the head's current plan gives it.
// When its direct WebRTC link to tab A opened is reported beside it. The browser, the stack and
// the namespace are closed whatever happens.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { chromiumLaunchOptions } from '../../playwright/support/browser.ts';
import { startNetns, type Netns } from '../../playwright/support/netns.ts';
import { startStack, type Stack } from '../../playwright/support/stack.ts';

/** Milliseconds from the page's navigation start to each first sighting (see INSTRUMENT). */
export type JoinMarks = Record<string, number>;

export interface JoinRun {
  /** Navigation start → its stage ready on the range the head planned for it. */
  readonly joinMs: number;
  /** Navigation start → its first direct WebRTC link (undefined: none within the wait). */
  readonly webrtcMs: number | undefined;
  readonly marks: JoinMarks;
  /** Where the stage's load went (stage-server.ts), when it loaded. */
  readonly loadSteps?: { openMs: number; kernelsMs: number; weightsMs: number };
  /** The companion's log lines while the tab joined, in ms since its navigation start (when the bench saw them). */
  readonly companion: string[];
}

export interface JoinSummary {
  /** p50 over the rejoins (weights cached). */
  readonly joinMs: number;
  /** p50 over the rejoins that upgraded to WebRTC (undefined: none did). */
  readonly webrtcMs: number | undefined;
  /** The run with the median join. */
  readonly median: JoinRun;
  readonly runs: JoinRun[];
  /** The warm-up join of the same profile (nothing cached yet). */
  readonly coldMs: number;
  /** Its steps, in ms after navigation start. */
  readonly coldMarks: JoinMarks;
  /** How the stack and Chromium were networked. */
  readonly where: string;
}

/**
 * Installed before the app's scripts: once window.meshApp exists, every change of its mesh state is
 * checked and the first time each step is seen is kept in window.__join, in ms since navigation start.
 */
const INSTRUMENT = () => {
  const marks: Record<string, number> = {};
  (window as unknown as { __join: Record<string, number> }).__join = marks;
  const mark = (k: string) => {
    if (!(k in marks)) marks[k] = performance.now();
  };
  type Snap = {
    status: string;
    peerId?: string;
    linkTypesSeen?: string[];
    peers?: { links: string[]; member: boolean; companion?: boolean }[];
    rttMs?: number;
    stage?: { status: string; layers?: { start: number; end: number }; loadSteps?: { openMs: number; kernelsMs: number; weightsMs: number } };
    plan?: { stages: { peerId: string; layers: { start: number; end: number }; ready: boolean }[] };
  };
  const hook = () => {
    const app = (window as unknown as { meshApp?: { mesh?: { state(): Snap; onChange(l: () => void): void } } }).meshApp;
    if (!app?.mesh) return void setTimeout(hook, 2);
    const mesh = app.mesh;
    mark('app');
    const check = () => {
      const s = mesh.state();
      mark(`mesh ${s.status}`);
      for (const l of s.linkTypesSeen ?? []) mark(`link ${l}`);
      if (s.stage) mark(`stage ${s.stage.status}`);
      if (s.stage?.layers) mark('stage follows the plan');
      if (s.stage?.loadSteps) (window as unknown as { __loadSteps: unknown }).__loadSteps = s.stage.loadSteps;
      if (s.peers?.some((p) => p.companion && p.member)) mark('head member');
      if (s.rttMs !== undefined) mark('rtt measured');
      if (s.plan) mark('a plan');
      const mine = s.plan?.stages.find((st) => st.peerId === s.peerId);
      if (mine) mark('planned');
      if (mine && s.stage?.status === 'ready' && s.stage.layers?.start === mine.layers.start && s.stage.layers.end === mine.layers.end) {
        mark('serving');
        if (s.plan!.stages.every((st) => st.ready)) mark('route ready');
      }
    };
    mesh.onChange(check);
    check();
  };
  hook();
};

const marksOf = (page: Page) => page.evaluate(() => (window as unknown as { __join?: Record<string, number> }).__join ?? {});

async function waitFor(page: Page, key: string, timeoutMs: number, onPoll?: () => void): Promise<JoinMarks> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    onPoll?.();
    const marks = await marksOf(page).catch(() => ({}) as JoinMarks);
    if (key in marks) return marks;
    if (Date.now() > deadline) throw new Error(`the tab did not reach "${key}" within ${timeoutMs / 1000} s (it saw: ${JSON.stringify(marks)})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function openTab(context: BrowserContext, link: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`join bench: page error: ${error.message}`));
  await page.goto(link);
  return page;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** A head tab (role=client, no companion) creates a private mesh of `model`: its invite link, from the page's data-invite field. */
async function createInTab(browser: Browser, stack: Stack, model: string): Promise<string> {
  const { app, nostr } = stack.urls;
  const page = await openTab(
    await browser.newContext(),
    `${app}/#create=private&model=${encodeURIComponent(`${app}/models/${model}.gguf`)}&role=client&auto=1&relay=${encodeURIComponent(nostr)}`,
  );
  const field = page.locator('[data-invite]');
  await field.waitFor({ state: 'attached', timeout: 60_000 });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await field.inputValue();
    if (value.includes('#join=')) return value;
    if (Date.now() > deadline) throw new Error('the head tab showed no invite within 60 s');
    await sleep(50);
  }
}

/**
 * Measures `rejoins` joins of one tab as described at the top (head 'tab': the mesh is made and headed
 * by a tab with role=client on a `--static-only` host, and every link is WebRTC signalled over Nostr). `budgetBytes` must hold about half
 * the model's layers, so the head plans it across the two tabs.
 */
export async function measureBrowserJoins(model: string, budgetBytes: number, rejoins: number, head: 'companion' | 'tab' = 'companion'): Promise<JoinSummary> {
  const made = await startNetns();
  const netns: Netns | null = made.netns;
  let stack: Stack | undefined;
  let browser: Browser | undefined;
  try {
    const wrap = netns ? { wrap: netns.wrap } : {};
    stack =
      head === 'tab'
        ? await startStack({ args: ['--static-only', '--model', model], services: ['app', 'nostr'], ...wrap })
        : await startStack({ args: ['--model', model], ...wrap });
    browser = await chromium.launch(netns ? { ...chromiumLaunchOptions(), executablePath: netns.chromiumPath } : chromiumLaunchOptions());
    const invite = head === 'tab' ? await createInTab(browser, stack, model) : stack.printed.invite;
    if (!invite) throw new Error('npm start printed no invite: line');
    const link = `${invite}&auto=1&role=server&budget=${budgetBytes}`;
    const [a, b] = [await browser.newContext(), await browser.newContext()];
    await a.addInitScript(INSTRUMENT);
    await b.addInitScript(INSTRUMENT);
    // A, then B's first join: both serve their halves, and B's layers are now in its profile's cache.
    const tabA = await openTab(a, link);
    await waitFor(tabA, 'mesh joined', 60_000);
    let tabB = await openTab(b, link);
    const cold = await waitFor(tabB, 'serving', 120_000);
    await waitFor(tabA, 'serving', 60_000);
    const runs: JoinRun[] = [];
    for (let i = 0; i < rejoins; i++) {
      await tabB.close();
      // The head drops B from its plan (A alone cannot hold the model) before B comes back.
      await sleep(1500);
      // The companion's log lines while B joins, stamped on B's clock (same machine: epoch ms agree).
      let seen = stack.log().length;
      const heard: Array<[number, string]> = [];
      const listen = () => {
        const log = stack!.log();
        const now = Date.now();
        for (const line of log.slice(seen).split('\n')) if (line.trim()) heard.push([now, line.trim()]);
        seen = log.length;
      };
      tabB = await openTab(b, link);
      const marks = await waitFor(tabB, 'serving', 60_000, listen);
      const withRtc = await waitFor(tabB, 'link webrtc', 10_000, listen).catch(() => marks);
      const origin = await tabB.evaluate(() => performance.timeOrigin);
      const loadSteps = await tabB.evaluate(() => (window as unknown as { __loadSteps?: JoinRun['loadSteps'] }).__loadSteps);
      runs.push({
        joinMs: marks.serving,
        webrtcMs: withRtc['link webrtc'],
        marks: withRtc,
        ...(loadSteps ? { loadSteps } : {}),
        companion: heard.map(([t, line]) => `${Math.round(t - origin)} ms ${line}`),
      });
    }
    const joinMs = mid(runs.map((r) => r.joinMs));
    const rtc = runs.map((r) => r.webrtcMs).filter((x): x is number => x !== undefined);
    return {
      joinMs,
      webrtcMs: rtc.length > 0 ? mid(rtc) : undefined,
      median: runs.find((r) => r.joinMs === joinMs)!,
      runs,
      coldMs: cold.serving,
      coldMarks: cold,
      where: netns ? 'in its own network namespace, WebRTC between tabs' : `on loopback, no WebRTC: ${made.netns === null ? made.reason : ''}`,
    };
  } finally {
    await browser?.close().catch(() => {});
    await stack?.stop().catch(() => {});
    await netns?.close().catch(() => {});
  }
}
