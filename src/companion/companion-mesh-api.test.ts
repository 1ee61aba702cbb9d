// A client-role member of the companion's private mesh sends /v1 through the mesh (api-stream.ts) and
// gets what the companion's HTTP API gives: the same greedy text from the real engine, the same model
// list, generation stopped when it aborts. Prints time to first token and per-token time both ways.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentity } from '../mesh/identity.ts';
import { decodeInvite } from '../mesh/invite.ts';
import { PeerNode } from '../mesh/net/peer-node.ts';
import { until } from '../mesh/testing/test-mesh.ts';
import { COMPANION_TEST_MODEL as MODEL, greedyChat, startTestCompanion, type TestCompanion } from './testing/companion.ts';

let t: TestCompanion;
let client: PeerNode;

beforeAll(async () => {
  t = await startTestCompanion();
  client = new PeerNode({
    identity: await createIdentity(),
    invite: await decodeInvite(t.companion.mesh.token),
    role: 'client',
    backend: 'wasm',
    memoryBudgetBytes: 0,
    webrtc: false,
  });
  await client.start();
  await until('the companion verified the client', () => t.companion.mesh.node.isMember(client.snapshot().peerId));
  await until('the client verified the companion', () => client.snapshot().peers.some((p) => p.companion && p.member));
}, 60_000);

afterAll(async () => {
  await client?.stop();
  await t?.stop();
});

const messages = [{ role: 'user', content: 'Tell me about the mesh.' }];
const body = (maxTokens: number) => JSON.stringify({ model: MODEL, messages, max_tokens: maxTokens, temperature: 0, stream: true });
const overMesh = (init: RequestInit) =>
  client.fetchApi(new Request('http://app.invalid/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, ...init }));
const overHttp = (init: RequestInit) =>
  fetch(`${t.companion.urls.api}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, ...init });

/** Reads an OpenAI SSE answer: its text, the time to its first content event and the mean time between the rest. */
async function timed(response: Response, started: number): Promise<{ text: string; firstMs: number; perTokenMs: number }> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  let buffered = '';
  const times: number[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffered += value;
    const events = buffered.split('\n\n');
    buffered = events.pop()!;
    for (const event of events) {
      if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
      const delta = (JSON.parse(event.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content;
      if (delta) {
        text += delta;
        times.push(performance.now());
      }
    }
  }
  const firstMs = times[0] - started;
  return { text, firstMs, perTokenMs: times.length > 1 ? (times.at(-1)! - times[0]) / (times.length - 1) : 0 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('the companion’s API through its mesh', () => {
  it('streams the engine’s greedy text, as its HTTP API does', async () => {
    const want = await greedyChat(t, messages, 24);
    const runs = { mesh: [] as { firstMs: number; perTokenMs: number }[], http: [] as { firstMs: number; perTokenMs: number }[] };
    for (let i = 0; i < 5; i++) {
      for (const [name, send] of [
        ['mesh', overMesh],
        ['http', overHttp],
      ] as const) {
        const started = performance.now();
        const response = await send({ body: body(24) });
        expect(response.status).toBe(200);
        const got = await timed(response, started);
        expect(got.text).toBe(want.text);
        runs[name].push(got);
      }
    }
    const summary = (name: 'mesh' | 'http') =>
      `${name}: first token ${median(runs[name].map((r) => r.firstMs)).toFixed(1)} ms, then ${median(runs[name].map((r) => r.perTokenMs)).toFixed(2)} ms/token`;
    console.info(`median of 5, ${want.completionTokens} tokens: ${summary('mesh')}; ${summary('http')}`);
  }, 60_000);

  it('lists the models its HTTP API lists', async () => {
    const viaMesh = await client.fetchApi(new Request('http://app.invalid/v1/models'));
    const viaHttp = await fetch(`${t.companion.urls.api}/v1/models`);
    expect(await viaMesh.json()).toEqual(await viaHttp.json());
  });

  it('stops the engine when the member aborts mid-stream', async () => {
    const controller = new AbortController();
    const calls = t.provider.calls.length;
    const response = await overMesh({ body: body(200), signal: controller.signal });
    const reader = response.body!.getReader();
    await reader.read();
    await reader.read();
    controller.abort();
    await until('the generation was logged', () => t.provider.calls[calls]);
    const log = t.provider.calls[calls];
    const atAbort = log.yielded;
    await log.finished;
    expect(log.yielded - atAbort).toBeLessThanOrEqual(1);
    expect(log.yielded).toBeLessThan(200);
  });
});
