// Issue 12, items 3 and 4: the WebTransport bridge across machines. `npm start -- --host 0.0.0.0`
// runs in one network namespace (198.18.0.1); a Chromium in a second one (198.18.0.2) loads the app
// from a static server on its own 127.0.0.1 (a secure context, as a static host would serve it) and
// opens an invite whose bootstrap names only the companion's WebTransport address: no WebSockets
// address to fall back on. It joins over WebTransport, serves every layer of the model, and the
// companion's answer then comes from the tab's layers with the text the companion gave alone.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium, expect, test, type Browser, type Page } from '@playwright/test';
import { decodeInvite, encodeInvite, inviteLink, readJoinLink } from '../src/mesh/invite.ts';
import { gotoApp } from './support/app.ts';
import { chromiumLaunchOptions } from './support/browser.ts';
import { NETNS_ADDRESS, startNetnsPair, type Netns } from './support/netns.ts';
import { startStack, type Stack } from './support/stack.ts';
import { ROOT } from './support/vite-test-server.ts';

const MODEL = 'tiny-llama-4l-f32';

test.setTimeout(150_000);

let pair: { host: Netns; device: Netns } | null = null;
let skipped = '';
let stack: Stack;
let app: ChildProcess | undefined;
let appBase = '';
let browser: Browser | undefined;

/** The app's static server inside the device's namespace, on its 127.0.0.1. */
async function startDeviceApp(device: Netns): Promise<string> {
  const argv = device.wrap([join(ROOT, 'node_modules', '.bin', 'node'), join(ROOT, 'playwright', 'support', 'app-only-main.ts'), MODEL]);
  app = spawn(argv[0], argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    app!.once('exit', (code) => reject(new Error(`the device's app server exited (${code})`)));
    createInterface({ input: app!.stdout! }).on('line', (line) => {
      if (line.startsWith('base: ')) resolve(line.slice(6));
    });
  });
}

test.beforeAll(async () => {
  const made = await startNetnsPair();
  pair = made.netns;
  if (!made.netns) return void (skipped = made.reason);
  appBase = await startDeviceApp(made.netns.device);
  stack = await startStack({ args: ['--host', '0.0.0.0', '--model', MODEL, '--backend', 'ref', '--cors-origin', appBase], wrap: made.netns.host.wrap });
});

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) console.error(`--- companion stderr ---\n${stack?.log().slice(-6000)}`);
});

test.afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  app?.kill('SIGTERM');
  await pair?.host.close();
  await pair?.device.close();
});

interface MeshState {
  status: string;
  peerId: string;
  peers?: { peerId: string; links: string[] }[];
  stage?: { status: string; layers?: { start: number; end: number } };
}
const meshState = (page: Page) => page.evaluate(() => (window as unknown as { meshApp: { mesh: { state(): unknown } } }).meshApp.mesh.state() as MeshState);

/** A greedy chat on the companion's API, asked from inside its own namespace: the text and who served it. */
async function chat(): Promise<{ status: string; servedBy: string; content: string }> {
  const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hello over WebTransport' }], max_tokens: 8, temperature: 0 });
  const argv = pair!.host.wrap([
    'curl',
    '-s',
    '-D',
    '-',
    '-H',
    'content-type: application/json',
    '-H',
    `authorization: Bearer ${stack.printed.token}`,
    '--data',
    body,
    `${stack.urls.api}/v1/chat/completions`,
  ]);
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  await new Promise((resolve) => child.once('exit', resolve));
  const [head, ...rest] = out.split('\r\n\r\n');
  const parsed = JSON.parse(rest.join('\r\n\r\n') || '{}') as { choices?: { message: { content: string } }[] };
  return {
    status: head.split(' ')[1] ?? '',
    servedBy: /^x-mesh-served-by: (.*)$/im.exec(head)?.[1]?.trim() ?? '',
    content: parsed.choices?.[0]?.message.content ?? out,
  };
}

test('a tab on another machine joins by WebTransport alone and serves layers', async () => {
  test.skip(pair === null, `no network namespaces here (${skipped})`);
  const { printed, urls } = stack;
  expect(printed.webtransport).toMatch(
    new RegExp(`^/ip4/${NETNS_ADDRESS.replaceAll('.', '\\.')}/udp/\\d+/quic-v1/webtransport/certhash/u[\\w-]+/certhash/u[\\w-]+/p2p/\\w+$`),
  );
  const companionId = urls.libp2p.split('/p2p/')[1];
  const alone = await chat();
  expect(alone.status, alone.content).toBe('200');
  expect(alone.servedBy).toMatch(/^companion/);

  // The invite as the companion printed it, less every address but the WebTransport one.
  const invite = await decodeInvite(readJoinLink(printed.invite)!.token);
  expect(invite.bootstrap).toEqual([urls.libp2p, printed.quic, printed.webtransport]);
  const link = inviteLink(appBase, encodeInvite({ ...invite, bootstrap: [printed.webtransport] }));

  const started = Date.now();
  browser = await chromium.launch({ ...chromiumLaunchOptions(), executablePath: pair!.device.chromiumPath });
  const page = await (await browser.newContext()).newPage();
  page.on('pageerror', (error) => console.error(`device page error: ${error.message}`));
  await gotoApp(page, `${link}&role=server&auto=1`);
  expect(await page.evaluate(() => isSecureContext && typeof WebTransport === 'function')).toBe(true);
  await expect
    .poll(async () => (await meshState(page)).stage?.status, { timeout: 60_000, message: 'the tab should join over WebTransport and load its layers' })
    .toBe('ready');
  const servingMs = Date.now() - started;
  const state = await meshState(page);
  expect(state.status).toBe('joined');
  expect(state.peers?.find((p) => p.peerId === companionId)?.links).toEqual(['webtransport']);
  expect(state.stage?.layers).toEqual({ start: 0, end: 4 });

  await expect
    .poll(async () => (await chat()).servedBy, { timeout: 30_000, message: 'the companion should answer through the tab' })
    .toBe(`${state.peerId};layers=0-4`);
  const through = await chat();
  expect(through.status).toBe('200');
  expect(through.content).toBe(alone.content);
  console.log(`mesh-webtransport: tab at 198.18.0.2 joined over WebTransport and served layers 0-4 in ${servingMs} ms; answer equal to the companion's alone`);
});

test('a tab given an unknown certificate hash is refused, and told to ask for a new invite', async () => {
  test.skip(pair === null, `no network namespaces here (${skipped})`);
  const { printed } = stack;
  const invite = await decodeInvite(readJoinLink(printed.invite)!.token);
  // Both hashes replaced by one the companion never served (as an invite long past its rotation).
  const stale = printed.webtransport.replace(
    /(\/certhash\/u[\w-]+)+/,
    `/certhash/u${Buffer.from([0x12, 0x20, ...new Uint8Array(32).fill(9)]).toString('base64url')}`,
  );
  const link = inviteLink(appBase, encodeInvite({ ...invite, bootstrap: [stale], relays: [] }));
  browser ??= await chromium.launch({ ...chromiumLaunchOptions(), executablePath: pair!.device.chromiumPath });
  const page = await (await browser.newContext()).newPage();
  const lines: string[] = [];
  page.on('console', (message) => lines.push(message.text()));
  await gotoApp(page, `${link}&role=server&auto=1`);
  await expect
    .poll(() => lines.find((l) => l.includes('bootstrap')) ?? '', { timeout: 30_000, message: 'the failed dial should be said on the console' })
    .toMatch(/failed: .*WebTransport: the node's certificate is not one the address names.*ask the mesh's owner for a new invite/);
  const said = lines.find((l) => l.includes('bootstrap'))!;
  console.log(`mesh-webtransport: a stale certificate hash: ${said.slice(said.indexOf('failed: '))}`);
  expect((await meshState(page)).peers?.some((p) => p.links.includes('webtransport')) ?? false).toBe(false);
});
