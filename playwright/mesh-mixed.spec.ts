// Issue 12's mixed pipeline, three machines as three network namespaces on one segment: A
// (198.18.0.1) runs `npm start` and heads the mesh; B (198.18.0.2) is a headless native peer
// (`--join … --serve`) linked to A over QUIC; C (198.18.0.3) is a Chromium that loads the app from
// its own 127.0.0.1 and reaches A over WebTransport only (its invite names no other address). The
// model is split between B and C; teacher-forced log-probs through the mesh are within 1e-4 of A's
// alone, and an answer during which B is killed is the answer A gives alone.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium, expect, test, type Browser, type Page } from '@playwright/test';
import { fileSource } from '../src/engine/file-source.ts';
import { openModel } from '../src/engine/model.ts';
import { decodeInvite, encodeInvite, inviteLink, readJoinLink } from '../src/mesh/invite.ts';
import { budgetFor } from '../src/mesh/testing/test-mesh.ts';
import { ensureModel } from '../tools/models/registry.ts';
import { gotoApp } from './support/app.ts';
import { chromiumLaunchOptions } from './support/browser.ts';
import { startNetnsTrio, type Netns } from './support/netns.ts';
import { startStack, type Stack } from './support/stack.ts';
import { ROOT } from './support/vite-test-server.ts';

const MODEL = 'tiny-llama-4l-f32';
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const PROMPT = 'The quick brown fox jumps over the lazy dog because';
const CHAT = { model: MODEL, messages: [{ role: 'user', content: 'Tell me a story about a fox.' }], max_tokens: 48, temperature: 0 };

test.setTimeout(180_000);

let trio: { host: Netns; second: Netns; third: Netns } | null = null;
let skipped = '';
let stack: Stack;
const children: ChildProcess[] = [];
let browser: Browser | undefined;
const peerCache = mkdtempSync(join(tmpdir(), 'mesh-mixed-'));

/** Runs `argv` in `netns`; resolves with the process and the first stdout line matching `ready`. */
function startIn(netns: Netns, argv: string[], ready: RegExp, log: string[]): Promise<{ child: ChildProcess; line: string }> {
  const wrapped = netns.wrap(argv);
  const child = spawn(wrapped[0], wrapped.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => log.push(chunk));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${argv.slice(1, 3).join(' ')} exited (${code}):\n${log.join('').slice(-3000)}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (ready.test(line)) resolve({ child, line });
    });
  });
}

/** curl in A's namespace: the companion's API as a local agent calls it. `onChunk` sees each streamed data line. */
async function api(path: string, body: unknown, onChunk?: (n: number) => void): Promise<{ head: string; body: string }> {
  const argv = trio!.host.wrap([
    'curl',
    '-sN',
    '-m',
    '60',
    '-D',
    '-',
    '-H',
    'content-type: application/json',
    '-H',
    `authorization: Bearer ${stack.printed.token}`,
    '--data',
    JSON.stringify(body),
    `${stack.urls.api}${path}`,
  ]);
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let chunks = 0;
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    const now = out.split('\ndata: ').length - 1;
    while (chunks < now) {
      chunks++;
      onChunk?.(chunks);
    }
  });
  await new Promise((resolve) => child.once('exit', resolve));
  const at = out.indexOf('\r\n\r\n');
  return { head: out.slice(0, at), body: out.slice(at + 4) };
}

const servedBy = (head: string) => /^x-mesh-served-by: (.*)$/im.exec(head)?.[1]?.trim() ?? '';

/** The text of a streamed chat's body (OpenAI chunks). */
function streamedText(body: string): string {
  return body
    .split('\n')
    .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
    .map((l) => (JSON.parse(l.slice(6)) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content ?? '')
    .join('');
}

interface Logprobs {
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
}
async function teacherForced(): Promise<{ servedBy: string; logprobs: Logprobs }> {
  const r = await api('/v1/completions', { model: MODEL, prompt: PROMPT, echo: true, max_tokens: 0, logprobs: 5 });
  const parsed = JSON.parse(r.body) as { choices?: { logprobs: Logprobs }[] };
  expect(parsed.choices, r.body).toBeDefined();
  return { servedBy: servedBy(r.head), logprobs: parsed.choices![0].logprobs };
}

function worstGap(a: Logprobs, b: Logprobs): number {
  let worst = 0;
  a.token_logprobs.forEach((x, i) => {
    if (x !== null) worst = Math.max(worst, Math.abs(x - (b.token_logprobs[i] ?? Number.NaN)));
    for (const [token, lp] of Object.entries(a.top_logprobs[i] ?? {})) worst = Math.max(worst, Math.abs(lp - (b.top_logprobs[i]?.[token] ?? Number.NaN)));
  });
  return worst;
}

const meshState = (page: Page) =>
  page.evaluate(
    () => (window as unknown as { meshApp: { mesh: { state(): unknown } } }).meshApp.mesh.state() as { peerId: string; stage?: { status: string } },
  );

test.beforeAll(async () => {
  const made = await startNetnsTrio();
  trio = made.netns;
  if (!made.netns) return void (skipped = made.reason);
  stack = await startStack({ args: ['--host', '0.0.0.0', '--model', MODEL], wrap: made.netns.host.wrap });
});

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) console.error(`--- companion stderr ---\n${stack?.log().slice(-6000)}`);
});

test.afterAll(async () => {
  await browser?.close();
  for (const child of children) child.kill('SIGKILL');
  await stack?.stop();
  for (const n of [trio?.host, trio?.second, trio?.third]) await n?.close();
  rmSync(peerCache, { recursive: true, force: true });
});

test('A heads, B (native, QUIC) and C (Chromium, WebTransport) run the stages: log-probs as A alone, and B killed mid-answer changes nothing', async () => {
  test.skip(trio === null, `no network namespaces here (${skipped})`);
  const alone = await teacherForced();
  expect(alone.servedBy).toMatch(/^companion/);
  const aloneChat = await api('/v1/chat/completions', { ...CHAT, stream: true });
  const aloneText = streamedText(aloneChat.body);
  expect(aloneText.length).toBeGreaterThan(20);

  // Two layers' worth each (of four), so the plan needs both B and C.
  const source = await fileSource(await ensureModel(MODEL));
  const budget = budgetFor(await openModel(source), 2);
  await source.close();

  const bLog: string[] = [];
  const b = await startIn(
    trio!.second,
    [NODE, 'scripts/start.ts', '--join', stack.printed.invite, '--serve', '--host', '0.0.0.0', '--budget', String(budget), '--cache-dir', peerCache],
    /^peer: \S+ joined/,
    bLog,
  );
  const bId = b.line.split(' ')[1];

  const appLog: string[] = [];
  const app = await startIn(trio!.third, [NODE, join(ROOT, 'playwright', 'support', 'app-only-main.ts'), MODEL], /^base: /, appLog);
  const base = app.line.slice(6);
  const invite = await decodeInvite(readJoinLink(stack.printed.invite)!.token);
  const link = inviteLink(base, encodeInvite({ ...invite, bootstrap: [stack.printed.webtransport] }));
  browser = await chromium.launch({ ...chromiumLaunchOptions(), executablePath: trio!.third.chromiumPath });
  const page = await (await browser.newContext()).newPage();
  await gotoApp(page, `${link}&role=server&auto=1&budget=${budget}`);
  await expect.poll(async () => (await meshState(page)).stage?.status, { timeout: 60_000, message: 'C should join and load its layers' }).toBe('ready');
  const cId = (await meshState(page)).peerId;
  const cLinks = await page.evaluate(
    (id) =>
      (window as unknown as { meshApp: { mesh: { state(): { peers?: { peerId: string; links: string[] }[] } } } }).meshApp.mesh
        .state()
        .peers?.find((p) => p.peerId === id)?.links,
    stack.urls.libp2p.split('/p2p/')[1],
  );
  expect(cLinks).toEqual(['webtransport']);

  await expect
    .poll(async () => (await teacherForced()).servedBy, { timeout: 60_000, message: 'the plan should split the model between B and C' })
    .toMatch(new RegExp(`(${bId}|${cId});layers=0-2, (${bId}|${cId});layers=2-4`));
  const mixed = await teacherForced();
  expect(mixed.servedBy).toContain(bId);
  expect(mixed.servedBy).toContain(cId);
  const gap = worstGap(alone.logprobs, mixed.logprobs);
  expect(gap).toBeLessThanOrEqual(1e-4);

  // An answer during which B dies: A replays onto what is left and the text does not change.
  let killedAt = 0;
  const faulted = await api('/v1/chat/completions', { ...CHAT, stream: true }, (n) => {
    if (n === 6 && !killedAt) {
      killedAt = n;
      b.child.kill('SIGKILL');
    }
  });
  expect(killedAt).toBe(6);
  expect(servedBy(faulted.head)).toContain(bId);
  expect(streamedText(faulted.body)).toBe(aloneText);
  console.log(`mesh-mixed: A head, ${servedBy(faulted.head)}; log-prob gap to A alone ${gap.toExponential(2)}; B killed after ${killedAt} chunks, same answer`);
});
