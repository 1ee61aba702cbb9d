// A tab meeting the companion's mesh over the WebTransport bridge alone: the companion serves
// WebSockets, QUIC and WebTransport; a peer built as the page builds it (peer-libp2p.ts, with a
// WebTransport client in place of the browser's: vitest.config.ts) is given an invite that names only
// the WebTransport address, proves membership both ways and asks the API over that link. With
// every address offered, it picks WebTransport over WebSockets.
import './testing/webtransport-global.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiContext, handleApiRequest } from '../api/index.ts';
import { loadModelText, ScriptedProvider, TEST_MODEL } from '../api/testing/scripted-provider.ts';
import { ensureModel } from '../../tools/models/registry.ts';
import { createIdentity } from '../mesh/identity.ts';
import type { Invite } from '../mesh/invite.ts';
import { serveMeshApi } from '../mesh/net/api-stream.ts';
import { PeerNode } from '../mesh/net/peer-node.ts';
import { startTestMesh, until, type TestMesh } from '../mesh/testing/test-mesh.ts';

const REPLY = 'Over WebTransport, with no TCP port in the way.';
let mesh: TestMesh;
const tabs: PeerNode[] = [];

beforeAll(async () => {
  mesh = await startTestMesh({ quic: true, webTransport: true });
  const ctx = createApiContext({ provider: new ScriptedProvider({ text: await loadModelText(await ensureModel(TEST_MODEL)), reply: REPLY }) });
  await serveMeshApi(mesh.companion.node, (request, info) => handleApiRequest(request, ctx, info));
}, 60_000);

afterAll(async () => {
  for (const tab of tabs) await tab.stop();
  await mesh?.stop();
});

async function tab(invite: Invite): Promise<PeerNode> {
  const peer = new PeerNode({ identity: await createIdentity(), invite, role: 'client', backend: 'wasm', memoryBudgetBytes: 0, webrtc: false });
  tabs.push(peer);
  await peer.start();
  return peer;
}

describe('a tab on the WebTransport bridge', () => {
  it('carries the WebTransport address in the invite after WebSockets and QUIC', () => {
    expect(mesh.invite.bootstrap).toHaveLength(3);
    expect(mesh.invite.bootstrap[2]).toMatch(/^\/ip4\/127\.0\.0\.1\/udp\/[1-9]\d*\/quic-v1\/webtransport\/certhash\/u[\w-]+\/certhash\/u[\w-]+\/p2p\//);
  });

  it('joins from an invite naming only WebTransport: membership both ways and the API over that link', async () => {
    const only = { ...mesh.invite, bootstrap: [mesh.invite.bootstrap[2]] };
    const peer = await tab(only);
    const id = peer.snapshot().peerId;
    await until('the head verified the tab', () => mesh.companion.node.isMember(id));
    await until('the tab verified the head', () => peer.snapshot().peers.some((p) => p.companion && p.member));
    expect(mesh.companion.node.linksTo(id)).toEqual(['webtransport']);
    const response = await peer.fetchApi(
      new Request('http://app.invalid/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: TEST_MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 64 }),
      }),
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as { choices: { message: { content: string } }[] };
    expect(body.choices[0].message.content.trim()).toBe(REPLY);
  });

  it('prefers WebTransport to WebSockets when the invite offers both', async () => {
    const peer = await tab(mesh.invite);
    const id = peer.snapshot().peerId;
    await until('the head verified the tab', () => mesh.companion.node.isMember(id));
    expect(mesh.companion.node.linksTo(id)).toEqual(['webtransport']);
  });

  it('falls back to WebSockets when the WebTransport address names a certificate the node no longer serves', async () => {
    const stale = mesh.invite.bootstrap[2].replace(
      /(\/certhash\/u[\w-]+)+/,
      `/certhash/u${Buffer.from([0x12, 0x20, ...new Uint8Array(32).fill(5)]).toString('base64url')}`,
    );
    const peer = await tab({ ...mesh.invite, bootstrap: [mesh.invite.bootstrap[0], stale] });
    const id = peer.snapshot().peerId;
    await until('the head verified the tab', () => mesh.companion.node.isMember(id));
    expect(mesh.companion.node.linksTo(id)).toEqual(['websocket']);
  });
});
