// A mesh as it starts and breaks for real, shared by playwright/mesh-churn.spec.ts and
// `npm run bench:mesh`: three server tabs, each in a Chromium process of its own, launched at once
// while a client keeps asking the companion's API; then one process killed mid-answer. It measures
// what a user sees: every answer's status and text, the seconds from launch to the first answer split
// across all three, and the time a kill adds to an answer.
import type { Page } from 'playwright-core';

/** The page-side loop that asks the API while the mesh forms: one greedy completion after another. */
interface Asked {
  status: number;
  text: string;
  servedBy: string;
  /** ms since the loop started, when the answer completed. */
  at: number;
}

export interface ColdStart {
  /** Seconds from launching the processes to the first answer served through all three tabs. */
  readonly cold3S: number;
  /** Every answer the client got while the processes started and the plan settled. */
  readonly answers: readonly Asked[];
  readonly tabs: readonly Tab[];
  /** Per tab, seconds after launch when it first showed each step: page up, member, stage ready. */
  readonly steps: readonly { page?: number; member?: number; ready?: number }[];
}

/** A server tab in a Chromium process of its own; close() ends the process. */
export interface Tab {
  readonly page: Page;
  close(): Promise<void>;
}

export interface ChurnOptions {
  readonly client: Page;
  readonly api: string;
  readonly model: string;
  readonly prompt: string;
  readonly maxTokens: number;
  /** The invite link (`invite:` of npm start). */
  readonly invite: string;
  /** One budget per tab, in bytes. */
  readonly budgets: readonly number[];
  /** Starts Chromium process `i`, networked like the rest, with one blank page. */
  readonly launch: (i: number) => Promise<Tab>;
  /** How long to wait for the split across all tabs. */
  readonly timeoutMs?: number;
}

/** Starts (or restarts) the client's request loop; answers go to window.__asked. */
async function startAsking(client: Page, api: string, model: string, prompt: string, maxTokens: number): Promise<void> {
  await client.evaluate(
    ({ api, model, prompt, maxTokens }) => {
      const w = window as unknown as { __asked: unknown[]; __asking: boolean };
      w.__asked = [];
      w.__asking = true;
      const started = performance.now();
      void (async () => {
        while (w.__asking) {
          try {
            const res = await fetch(`${api}/v1/completions`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ model, prompt, max_tokens: maxTokens, temperature: 0 }),
            });
            const body = await res.text();
            let text = body;
            try {
              text = (JSON.parse(body) as { choices: { text: string }[] }).choices[0].text;
            } catch {
              /* an error body: kept whole */
            }
            w.__asked.push({ status: res.status, text, servedBy: res.headers.get('x-mesh-served-by') ?? '', at: performance.now() - started });
          } catch (error) {
            w.__asked.push({ status: 0, text: String(error), servedBy: '', at: performance.now() - started });
          }
        }
      })();
    },
    { api, model, prompt, maxTokens },
  );
}

const asked = (client: Page) => client.evaluate(() => (window as unknown as { __asked: Asked[] }).__asked);

async function stopAsking(client: Page): Promise<Asked[]> {
  await client.evaluate(() => {
    (window as unknown as { __asking: boolean }).__asking = false;
  });
  // The request in flight completes and is counted.
  const n = (await asked(client)).length;
  for (let i = 0; i < 300 && (await asked(client)).length === n; i++) await client.waitForTimeout(50);
  return asked(client);
}

/** Launches one process per budget at once, each a server tab from the invite; waits for the split across all. */
export async function coldStart(o: ChurnOptions): Promise<ColdStart> {
  await startAsking(o.client, o.api, o.model, o.prompt, o.maxTokens);
  const launched = Date.now();
  const since = () => (Date.now() - launched) / 1000;
  const steps: { page?: number; member?: number; ready?: number }[] = o.budgets.map(() => ({}));
  const tabs = await Promise.all(
    o.budgets.map(async (budget, i) => {
      const tab = await o.launch(i);
      tab.page.on('pageerror', (error) => console.error(`tab ${i} page error: ${error.message}`));
      await tab.page.goto(`${o.invite}&auto=1&role=server&budget=${budget}`);
      steps[i].page = since();
      return tab;
    }),
  );
  const deadline = Date.now() + (o.timeoutMs ?? 90_000);
  let cold3S = Number.NaN;
  while (Date.now() < deadline) {
    await Promise.all(
      tabs.map(async (t, i) => {
        type Snap = { status?: string; stage?: { status?: string } } | undefined;
        const snap = await t.page
          .evaluate(() => (window as unknown as { meshApp?: { mesh?: { state(): unknown } } }).meshApp?.mesh?.state() as Snap)
          .catch(() => undefined);
        if (snap?.status === 'joined') steps[i].member ??= since();
        if (snap?.stage?.status === 'ready') steps[i].ready ??= since();
      }),
    );
    const all = await asked(o.client);
    const first = all.find((a) => a.status === 200 && a.servedBy.split(', ').length === o.budgets.length);
    if (first) {
      cold3S = (Date.now() - launched) / 1000;
      break;
    }
    await o.client.waitForTimeout(100);
  }
  // A few more answers on the settled plan, then the loop stops.
  const settled = (await asked(o.client)).length;
  for (let i = 0; i < 100 && (await asked(o.client)).length < settled + 3; i++) await o.client.waitForTimeout(100);
  return { cold3S, answers: await stopAsking(o.client), tabs, steps };
}

export interface KillRun {
  /** The answer with a tab's process killed mid-way. */
  readonly faulted: { status: number; text: string; ms: number };
  /** The same request just before, undisturbed. */
  readonly clean: { status: number; text: string; ms: number; servedBy: string };
  /** faulted.ms - clean.ms. */
  readonly killDelayMs: number;
}

/** `page 1.2/member 3.4/ready 5.6 s` per tab, for the logs. */
export function stepsText(steps: ColdStart['steps']): string {
  const t = (x: number | undefined) => (x === undefined ? 'never' : x.toFixed(1));
  return steps.map((s, i) => `tab ${i}: page ${t(s.page)}, joined ${t(s.member)}, layers ready ${t(s.ready)}`).join('; ');
}

/** Times one streamed answer from the client; closes `victim` once `killAfter` chunks arrived. */
async function timedAnswer(o: Pick<ChurnOptions, 'client' | 'api' | 'model' | 'prompt' | 'maxTokens'>, kill?: { victim: Tab; after: number }) {
  const run = o.client.evaluate(
    async ({ api, model, prompt, maxTokens }) => {
      const w = window as unknown as { __chunks: number };
      w.__chunks = 0;
      const started = performance.now();
      const res = await fetch(`${api}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, prompt, max_tokens: maxTokens, temperature: 0, stream: true }),
      });
      const servedBy = res.headers.get('x-mesh-served-by') ?? '';
      if (res.status !== 200) return { status: res.status, text: await res.text(), ms: performance.now() - started, servedBy };
      let text = '';
      let buffer = '';
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const data = buffer.slice(0, cut).replace(/^data: /, '');
          buffer = buffer.slice(cut + 2);
          if (!data.startsWith('{')) continue;
          const chunk = JSON.parse(data) as { choices?: { text: string }[]; error?: { message: string } };
          if (chunk.error) return { status: 500, text: chunk.error.message, ms: performance.now() - started, servedBy };
          text += chunk.choices?.[0]?.text ?? '';
          w.__chunks++;
        }
      }
      return { status: res.status, text, ms: performance.now() - started, servedBy };
    },
    { api: o.api, model: o.model, prompt: o.prompt, maxTokens: o.maxTokens },
  );
  if (kill) {
    for (let i = 0; i < 600; i++) {
      if ((await o.client.evaluate(() => (window as unknown as { __chunks: number }).__chunks)) >= kill.after) break;
      await o.client.waitForTimeout(10);
    }
    await kill.victim.close(); // the whole process goes, as when a laptop lid closes
  }
  return run;
}

/** One undisturbed answer through the split, then the same answer with `victim`'s process killed after a few tokens. */
export async function killMidAnswer(o: Pick<ChurnOptions, 'client' | 'api' | 'model' | 'prompt' | 'maxTokens'>, victim: Tab): Promise<KillRun> {
  const clean = await timedAnswer(o);
  const faulted = await timedAnswer(o, { victim, after: Math.floor(o.maxTokens / 4) });
  return { clean, faulted, killDelayMs: faulted.ms - clean.ms };
}
