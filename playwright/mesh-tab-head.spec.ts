// Issue 11: a mesh with no companion. `npm start -- --static-only` serves only the app, /models/ and
// a Nostr relay. Tab A creates a private mesh from a link (role=client: it coordinates, serves no
// layers) and shows its invite; three tabs join it as servers with budgets for one, one and two
// (on WebGPU) of the model's four layers; a fourth joins as a client and asks with a plain fetch('/v1/…'). Every
// link is WebRTC signalled over the relay. The answer names the server tabs' layers and has the solo
// text; prompt scoring through the mesh equals one machine's within 1e-4; a serving tab closed
// mid-answer costs a replay, not the answer; forged signals on the relay are dropped; and closing
// the head gives the members a clear error, not a hang. Runs in the test's own network namespace.
import { expect, test, type Browser, type BrowserContext, type Page, chromium } from '@playwright/test';
import { finalizeEvent, type Event } from 'nostr-tools/pure';
import { createApiContext } from '../src/api/context.ts';
import { handleApiRequest } from '../src/api/handler.ts';
import { post } from '../src/api/testing/requests.ts';
import { Engine } from '../src/engine/engine.ts';
import { createIdentity } from '../src/mesh/identity.ts';
import { decodeInvite, readJoinLink } from '../src/mesh/invite.ts';
import { decryptContent, encryptContent, newMeshSecret, openMesh } from '../src/mesh/mesh-keys.ts';
import type { PrivateMesh } from '../src/mesh/net/membership-stream.ts';
import { SignalChannel } from '../src/mesh/net/nostr-signal.ts';
import { EngineProvider } from '../src/provider/engine-provider.ts';
import { ensureModel } from '../tools/models/registry.ts';
import { gotoApp } from './support/app.ts';
import { chromiumLaunchOptions } from './support/browser.ts';
import { startNetns, type Netns } from './support/netns.ts';
import { startStack, type Stack } from './support/stack.ts';

const MODEL = 'tiny-llama-4l-f32';
/** One and two of its ~197 KB layers: the two WASM tabs hold one each, the WebGPU tab two, so the plan needs all three. */
const ONE_LAYER = 250_000;
const TWO_LAYERS = 450_000;
const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time';
const CHAT = { model: MODEL, messages: [{ role: 'user', content: 'Tell me a story.' }], max_tokens: 24, temperature: 0 };

test.setTimeout(300_000);

let netns: Netns | null = null;
let stack: Stack;
let browser: Browser;
const contexts: BrowserContext[] = [];

test.beforeAll(async () => {
  const made = await startNetns();
  netns = made.netns;
  if (!made.netns) console.warn(`mesh-tab-head: no network namespace (${made.reason}); running on loopback`);
  stack = await startStack({ args: ['--static-only', '--model', MODEL], services: ['app', 'nostr'], ...(netns ? { wrap: netns.wrap } : {}) });
  browser = await chromium.launch(
    netns
      ? { ...chromiumLaunchOptions(), executablePath: netns.chromiumPath }
      : chromiumLaunchOptions(['--force-webrtc-ip-handling-policy=disable_non_proxied_udp']),
  );
});

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) console.error(`--- static host stderr ---\n${stack?.log().slice(-4000)}`);
});

test.afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await netns?.close();
});

async function tab(url: string): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  page.on('console', (m) => m.type() === 'error' && console.log(`[tab ${contexts.length}] ${m.text()}`));
  await gotoApp(page, url);
  return page;
}

interface Snapshot {
  status: string;
  error?: string;
  peerId: string;
  nostrPubkey: string;
  signalsDropped: Record<string, number>;
  peers: { peerId: string; member: boolean; links: string[] }[];
  stage?: { status: string; layers?: { start: number; end: number } };
  plan?: { model: string; stages: { peerId: string; layers: { start: number; end: number }; ready: boolean }[] };
}
const state = (page: Page) => page.evaluate(() => (window as unknown as { meshApp: { mesh: { state(): unknown } } }).meshApp.mesh.state()) as Promise<Snapshot>;

/** The tab's peer id once it has joined (before, its state is only 'invited'). */
async function joinedId(page: Page): Promise<string> {
  await expect.poll(async () => (await state(page)).status, { timeout: 30_000 }).toBe('joined');
  return (await state(page)).peerId;
}

/** A /v1 request from the page, as any script would make it; the body read whole. */
async function ask(page: Page, path: string, body: unknown): Promise<{ status: number; servedBy: string; json: any }> {
  return page.evaluate(
    async ({ path, body }) => {
      const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const text = await res.text();
      let json: unknown = text;
      try {
        json = JSON.parse(text);
      } catch {}
      return { status: res.status, servedBy: res.headers.get('x-mesh-served-by') ?? '', json };
    },
    { path, body },
  );
}

async function solo() {
  const engine = await Engine.load(await ensureModel(MODEL));
  const ctx = createApiContext({ provider: new EngineProvider([{ id: MODEL, engine }]) });
  const json = async (route: string, body: unknown) => (await handleApiRequest(post(route, body), ctx)).json() as Promise<any>;
  const chat = await json('/v1/chat/completions', CHAT);
  const echo = await json('/v1/completions', { model: MODEL, prompt: PROMPT, echo: true, max_tokens: 0, logprobs: 5 });
  await engine.close();
  return { text: chat.choices[0].message.content as string, echo: echo.choices[0].logprobs as { tokens: string[]; token_logprobs: (number | null)[] } };
}

test('a tab heads a mesh with nothing but a static host and a Nostr relay', async () => {
  const { app, nostr } = stack.urls;
  const one = await solo();
  const head = await tab(
    `${app}/#create=private&model=${encodeURIComponent(`${app}/models/${MODEL}.gguf`)}&role=client&auto=1&relay=${encodeURIComponent(nostr)}`,
  );
  const field = head.locator('[data-invite]');
  await expect.poll(() => field.inputValue(), { timeout: 30_000 }).toMatch(/#join=/);
  const invite = await field.inputValue();

  const servers = await Promise.all([
    tab(`${invite}&role=server&auto=1&budget=${ONE_LAYER}`),
    tab(`${invite}&role=server&auto=1&budget=${ONE_LAYER}`),
    tab(`${invite}&role=server&auto=1&budget=${TWO_LAYERS}&backend=webgpu`),
  ]);
  const client = await tab(`${invite}&role=client&auto=1`);
  const serverIds = await Promise.all(servers.map(joinedId));

  // Ready plan from the head, every stage on a server tab, every link WebRTC.
  await expect
    .poll(async () => ((await state(client)).plan?.stages ?? []).filter((s) => s.ready).length, {
      timeout: 90_000,
      message: 'a ready plan across the server tabs',
    })
    .toBe(3);
  const snap = await state(client);
  expect(snap.plan!.stages.every((s) => serverIds.includes(s.peerId))).toBe(true);
  expect(snap.peers.filter((p) => p.member).every((p) => p.links.every((l) => l === 'webrtc'))).toBe(true);

  await client.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 30_000 });
  const models = await client.evaluate(async () => (await (await fetch('/v1/models')).json()) as { data: { id: string }[] });
  expect(models.data.map((m) => m.id)).toContain(MODEL);

  const answer = await ask(client, '/v1/chat/completions', CHAT);
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  expect(answer.json.choices[0].message.content).toBe(one.text);
  const served = answer.servedBy.split(', ').map((s) => /^(\S+);layers=(\d+)-(\d+)$/.exec(s));
  expect(
    served.every((m) => m && serverIds.includes(m[1]!)),
    answer.servedBy,
  ).toBe(true);
  expect(served.map((m) => `${m![2]}-${m![3]}`).join(' ')).toMatch(/^0-\d.* \d+-4$/);
  expect(served.map((m) => m![1]).sort()).toEqual([...serverIds].sort());
  expect((await state(servers[2]!)).stage).toMatchObject({ status: 'ready', backend: 'webgpu' });

  const echo = await ask(client, '/v1/completions', { model: MODEL, prompt: PROMPT, echo: true, max_tokens: 0, logprobs: 5 });
  expect(echo.status).toBe(200);
  const mesh = echo.json.choices[0].logprobs as typeof one.echo;
  expect(mesh.tokens).toEqual(one.echo.tokens);
  const worst = Math.max(...mesh.token_logprobs.map((x, i) => (x === null ? 0 : Math.abs(x - one.echo.token_logprobs[i]!))));
  console.log(
    `mesh-tab-head: prompt scoring through ${served.length} server tabs vs one machine: worst |Δ logprob| ${worst.toExponential(2)} over ${mesh.tokens.length} tokens`,
  );
  expect(worst).toBeLessThan(1e-4);

  await forgeSignals(client, nostr, invite, servers[0]!);

  // A spare server joins, then a one-layer tab is closed mid-answer: the head replans and replays.
  const spare = await tab(`${invite}&role=server&auto=1&budget=${TWO_LAYERS}`);
  const spareId = await joinedId(spare);
  await expect.poll(async () => (await state(client)).peers.some((p) => p.peerId === spareId && p.member), { timeout: 30_000 }).toBe(true);
  const planNow = async () => (await state(client)).plan;
  await expect.poll(async () => (await planNow())?.stages.every((s) => s.ready) ?? false, { timeout: 30_000 }).toBe(true);
  const victimId =
    (await planNow())!.stages.map((s) => s.peerId).find((id) => id === serverIds[0] || id === serverIds[1]) ?? (await planNow())!.stages[0]!.peerId;
  const victim = [...servers, spare][[...serverIds, spareId].indexOf(victimId)]!;
  const streamed = client.evaluate(async (body) => {
    const res = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, stream: true }),
    });
    const reader = res.body!.getReader();
    let text = '';
    let chunks = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
      if (++chunks === 2) (window as unknown as { __midAnswer: boolean }).__midAnswer = true;
    }
    const content = text
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => (JSON.parse(l.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '')
      .join('');
    return { status: res.status, content, raw: text.slice(-400) };
  }, CHAT);
  await client.waitForFunction(() => (window as unknown as { __midAnswer?: boolean }).__midAnswer === true, undefined, { timeout: 30_000 });
  await victim.context().close();
  const recovered = await streamed;
  expect(recovered.status).toBe(200);
  expect(recovered.content, recovered.raw).toBe(one.text);

  // The head leaves: members say so, and a request gets a clear error within seconds, not a hang.
  await head.context().close();
  const survivor = servers.find((s) => s !== victim)!;
  await expect.poll(async () => (await state(survivor)).error ?? '', { timeout: 20_000 }).toMatch(/head/i);
  const started = Date.now();
  const after = await ask(client, '/v1/chat/completions', CHAT);
  expect(after.status).toBe(503);
  expect(JSON.stringify(after.json)).toMatch(/head/i);
  expect(Date.now() - started).toBeLessThan(15_000);
});

/**
 * Forged WebRTC signals published on the relay to a server tab: sealed with another mesh's key,
 * signed by a Nostr key its claimed peer id never bound, sealed right but with a non-member's proof,
 * and a member's valid signal sent twice. The tab drops each and links to nobody new.
 */
async function forgeSignals(from: Page, relayUrl: string, invite: string, target: Page): Promise<void> {
  const { peerId, nostrPubkey, peers } = await state(target);
  const to = { peerId, nostrPubkey };
  const request = readJoinLink(invite);
  const mesh = (await openMesh({ visibility: 'private', secret: (await decodeInvite(request!.token)).secret })) as PrivateMesh;
  const other = (await openMesh({ visibility: 'private', secret: newMeshSecret() })) as PrivateMesh;
  const author = await createIdentity();
  const sealed = async (keys: PrivateMesh) => {
    const published: Event[] = [];
    const channel = new SignalChannel({
      relay: { publish: async (e: Event) => void published.push(e) } as never,
      identity: author,
      mesh: keys,
      onSignal: () => {},
    });
    await channel.send(to, 'offer', SignalChannel.newSession(), 'v=0 forged');
    return published[0]!;
  };
  const wrongKey = await sealed(other);
  const nonMember = await sealed({ ...mesh, memberKey: other.memberKey });
  const valid = await sealed(mesh);
  const mallory = await createIdentity();
  // The valid signal's body (its sender's binding and proof), sealed and signed by someone else.
  const body = await decryptContent(mesh.announceKey, mesh.meshId, valid.pubkey, valid.content);
  const content = await encryptContent(mesh.announceKey, mesh.meshId, mallory.nostrPubkey, body!);
  const unbound = finalizeEvent({ kind: valid.kind, created_at: valid.created_at, tags: valid.tags, content }, mallory.nostrSecretKey);
  const before = (await state(target)).signalsDropped;
  const grew = async (reason: string) => ((await state(target)).signalsDropped[reason] ?? 0) - (before[reason] ?? 0);
  // The forgeries first, so the unbound copy is judged on its own (after the valid one it would count as a replay).
  await publish(from, relayUrl, [wrongKey, nonMember, unbound]);
  await expect.poll(async () => [await grew('wrong-key'), await grew('non-member'), await grew('unbound-sender')]).toEqual([1, 1, 1]);
  // A relay drops the same event id twice itself; a replaying relay (or the author) sends it again under a new id.
  const again = finalizeEvent({ kind: valid.kind, created_at: valid.created_at + 1, tags: valid.tags, content: valid.content }, author.nostrSecretKey);
  await publish(from, relayUrl, [valid, again]);
  await expect.poll(() => grew('replayed')).toBe(1);
  const members = (await state(target)).peers.filter((p) => p.member).map((p) => p.peerId);
  expect(members.every((id) => peers.some((p) => p.peerId === id))).toBe(true);
}

/** Publishes events on the relay from a page (the relay lives in the test's network namespace). */
async function publish(page: Page, url: string, events: Event[]): Promise<void> {
  await page.evaluate(
    async ({ url, events }) => {
      const ws = new WebSocket(url);
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      let acked = 0;
      const done = new Promise<void>((resolve) => {
        ws.onmessage = (m) => {
          if (JSON.parse(m.data as string)[0] === 'OK' && ++acked === events.length) resolve();
        };
      });
      for (const e of events) ws.send(JSON.stringify(['EVENT', e]));
      await done;
      ws.close();
    },
    { url, events },
  );
}
