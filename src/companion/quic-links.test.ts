// Native nodes over QUIC: a companion-like head listening on WebSockets and QUIC, and two Node peers
// with the QUIC transport joined from its invite. They link to the head and to each other over QUIC
// alone, prove membership both ways, gossip their state, and a /v1 request travels on the API stream
// over QUIC as it does over WebSockets. A peer without QUIC (a tab) takes WebSockets from the same
// invite without a failed dial. Activation streams over QUIC: native-peer.test.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiContext, handleApiRequest, type ApiContext } from '../api/index.ts';
import { loadModelText, ScriptedProvider, TEST_MODEL } from '../api/testing/scripted-provider.ts';
import { ensureModel } from '../../tools/models/registry.ts';
import { createIdentity } from '../mesh/identity.ts';
import { serveMeshApi } from '../mesh/net/api-stream.ts';
import { PeerNode } from '../mesh/net/peer-node.ts';
import { startTestMesh, until, type TestMesh } from '../mesh/testing/test-mesh.ts';
import { quicListenAddress, quicTransport } from './native-transports.ts';

const REPLY = 'Over QUIC the stream opens in the same round trip as the link.';
let mesh: TestMesh;
let ctx: ApiContext;
const native: PeerNode[] = [];

/** A Node peer as a headless native peer makes it (native-peer.ts): QUIC transport and listener, no WebRTC. */
async function nativePeer(budget: number): Promise<PeerNode> {
  const peer = new PeerNode({
    identity: await createIdentity(),
    invite: mesh.invite,
    role: 'server',
    backend: 'wasm',
    memoryBudgetBytes: budget,
    webrtc: false,
    transports: [quicTransport()],
    listen: [quicListenAddress('127.0.0.1', 0)],
  });
  await peer.start();
  return peer;
}

beforeAll(async () => {
  mesh = await startTestMesh({ quic: true });
  ctx = createApiContext({ provider: new ScriptedProvider({ text: await loadModelText(await ensureModel(TEST_MODEL)), reply: REPLY }) });
  await serveMeshApi(mesh.companion.node, (request, info) => handleApiRequest(request, ctx, info));
  for (const budget of [1_000_001, 2_000_002]) native.push(await nativePeer(budget));
}, 60_000);

afterAll(async () => {
  for (const peer of native) await peer.stop();
  await mesh?.stop();
});

describe('native nodes over QUIC', () => {
  it('carries the QUIC address in the invite beside the WebSockets one', () => {
    expect(mesh.invite.bootstrap).toHaveLength(2);
    expect(mesh.invite.bootstrap[0]).toMatch(/\/tcp\/\d+\/ws\/p2p\//);
    expect(mesh.invite.bootstrap[1]).toMatch(/^\/ip4\/127\.0\.0\.1\/udp\/[1-9]\d*\/quic-v1\/p2p\//);
  });

  it('links each peer to the head and to the other peer over QUIC only, with membership proved both ways and state gossiped', async () => {
    const head = mesh.companion.node;
    const [a, b] = native.map((p) => p.snapshot().peerId);
    for (const peer of native) {
      const id = peer.snapshot().peerId;
      await until('the head verified the peer', () => head.isMember(id));
      await until('the peer verified the head', () => peer.snapshot().peers.some((p) => p.companion && p.member));
      expect(head.linksTo(id)).toEqual(['quic']);
      expect(peer.snapshot().peers.find((p) => p.companion)!.links).toEqual(['quic']);
      expect(peer.snapshot().linkTypesSeen).toEqual(['quic']);
    }
    // The peers found each other in their announcements (QUIC listen addresses) and linked directly.
    await until('a direct QUIC link between the peers', () =>
      native[0]
        .snapshot()
        .peers.find((p) => p.peerId === b)
        ?.links.includes('quic'),
    );
    await until('peer b vouched a member', () => native[1].snapshot().peers.find((p) => p.peerId === a)?.member);
    // Gossip: each peer's state (its budget) reaches the head and the other peer.
    const budgetAt = (view: { peerId: string; state?: { memoryBudgetBytes: number } }[], id: string) =>
      view.find((m) => m.peerId === id)?.state?.memoryBudgetBytes;
    await until('the head heard both budgets', () => budgetAt(head.memberList(), a) === 1_000_001 && budgetAt(head.memberList(), b) === 2_000_002);
    await until('peer a heard b’s budget', () => budgetAt(native[0].meshLayer!.memberList(), b) === 2_000_002);
  });

  it('answers /v1 on the API stream over QUIC as the head answers it directly', async () => {
    const request = () =>
      new Request('http://app.invalid/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: TEST_MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 64 }),
      });
    const content = async (r: Response) => ((await r.json()) as { choices: { message: { content: string } }[] }).choices[0].message.content;
    const response = await native[0].fetchApi(request());
    expect(response.status).toBe(200);
    const got = await content(response);
    expect(got.trim()).toBe(REPLY);
    expect(got).toBe(await content(await handleApiRequest(request(), ctx, { clientKey: 'direct' })));
    expect(mesh.companion.node.linksTo(native[0].snapshot().peerId)).toEqual(['quic']);
  });

  it('lets a peer without QUIC (a tab) join on WebSockets from the same invite, with no failed dial', async () => {
    const tabLogs: string[] = [];
    const tab = new PeerNode({
      identity: await createIdentity(),
      invite: mesh.invite,
      role: 'client',
      backend: 'wasm',
      memoryBudgetBytes: 0,
      webrtc: false,
      log: (line) => tabLogs.push(line),
    });
    try {
      await tab.start();
      await until('the tab verified the head', () => tab.snapshot().peers.some((p) => p.companion && p.member));
      expect(tab.snapshot().peers.find((p) => p.companion)!.links).toEqual(['websocket']);
      expect(tabLogs.filter((l) => /failed/.test(l))).toEqual([]);
    } finally {
      await tab.stop();
    }
  });

  it('stays out of the page: only Node code (src/companion) imports the native QUIC module', () => {
    const src = new URL('../', import.meta.url);
    const importers = (readdirSync(src, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.includes('testing/'))
      .filter((f) => /from '@chainsafe\/libp2p-quic'|import\('@chainsafe\/libp2p-quic'\)/.test(readFileSync(new URL(f, src), 'utf8')));
    expect(importers).toEqual(['companion/native-transports.ts']);
  });
});
