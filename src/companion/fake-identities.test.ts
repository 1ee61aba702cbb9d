// 200 fake identities linking to the companion's mesh node, each with a proof under the wrong key:
// every one is refused and hung up on, and the companion keeps answering its API and admitting an
// honest member that joins afterwards.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentity } from '../mesh/identity.ts';
import { decodeInvite, readJoinLink } from '../mesh/invite.ts';
import { newMeshSecret, openMesh } from '../mesh/mesh-keys.ts';
import { multiaddr } from '@multiformats/multiaddr';
import { answerChallenge, type PrivateMesh } from '../mesh/net/membership-stream.ts';
import { MEMBERSHIP_PROTOCOL } from '../mesh/net/protocols.ts';
import { createPeerLibp2p } from '../mesh/net/peer-libp2p.ts';
import { PeerNode } from '../mesh/net/peer-node.ts';
import { COMPANION_TEST_MODEL as MODEL, greedyChat, startTestCompanion, type TestCompanion } from './testing/companion.ts';

const FAKES = 200;
let t: TestCompanion;

beforeAll(async () => {
  t = await startTestCompanion();
}, 60_000);
afterAll(async () => {
  await t?.stop();
});

async function until(what: string, probe: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A fresh identity that dials the companion and answers its membership challenge with another mesh's key. */
async function fake(address: string, wrong: PrivateMesh): Promise<string> {
  const identity = await createIdentity();
  const libp2p = await createPeerLibp2p(identity, { webrtc: false });
  // It answers the companion's challenge (with the wrong key) and never challenges back.
  await libp2p.handle(MEMBERSHIP_PROTOCOL, (stream, connection) => answerChallenge(stream, connection, wrong, identity.peerId), {
    runOnLimitedConnection: true,
  });
  try {
    const companion = t.companion.mesh.node;
    const isRefused = () => companion.refusedList().some((r) => r.peerId === identity.peerId);
    // A dial over the host's inbound threshold (5 a second) is dropped before any check: dialled again.
    for (let attempt = 0; attempt < 20 && !isRefused(); attempt++) {
      const linked = await libp2p.dial(multiaddr(address)).then(
        () => true,
        () => false,
      );
      if (linked) await until(`the companion refused ${identity.peerId}`, isRefused, 8000).catch(() => {});
      else if (!isRefused()) await new Promise((resolve) => setTimeout(resolve, 300));
    }
    if (!isRefused()) throw new Error(`the companion never refused ${identity.peerId}`);
  } finally {
    await libp2p.stop();
  }
  return identity.peerId;
}

describe('200 fake identities linking to the companion', () => {
  it('are all refused, and the companion keeps answering and admitting members', async () => {
    const wrong = (await openMesh({ visibility: 'private', secret: newMeshSecret() })) as PrivateMesh;
    const started = Date.now();
    const refused = new Set<string>();
    // libp2p refuses more than 5 new connections a second from one host (its inbound threshold, a
    // protection of its own): paced under it, so each fake reaches the membership check.
    for (let batch = 0; batch < FAKES; batch += 5) {
      const paced = new Promise((resolve) => setTimeout(resolve, 1100));
      for (const id of await Promise.all(Array.from({ length: Math.min(5, FAKES - batch) }, () => fake(t.companion.urls.libp2p, wrong)))) refused.add(id);
      await paced;
    }
    expect(refused.size).toBe(FAKES);
    const node = t.companion.mesh.node;
    for (const id of refused) expect(node.isMember(id)).toBe(false);
    expect(
      node
        .refusedList()
        .filter((r) => refused.has(r.peerId))
        .every((r) => /wrong membership proof/.test(r.reason)),
    ).toBe(true);
    // None of them reached the mesh's gossip: no member state from a fake.
    expect(node.memberList().filter((m) => refused.has(m.peerId))).toEqual([]);
    console.info(`fake identities: ${FAKES} refused in ${Date.now() - started} ms`);

    // The API answers as before.
    const client = new OpenAI({ baseURL: `${t.companion.urls.api}/v1`, apiKey: 'unused' });
    const messages = [{ role: 'user' as const, content: 'Say hello.' }];
    const expected = await greedyChat(t, messages, 6);
    const reply = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 6, temperature: 0 });
    expect(reply.choices[0].message.content).toBe(expected.text);

    // An honest member still joins from the invite and is admitted.
    const invite = await decodeInvite(readJoinLink(t.companion.mesh.link)!.token);
    const peer = new PeerNode({ identity: await createIdentity(), invite, role: 'client', backend: 'wasm', memoryBudgetBytes: 0, webrtc: false });
    await peer.start();
    try {
      await until('the honest peer is a member', () => node.isMember(peer.snapshot().peerId), 60_000);
    } finally {
      await peer.stop();
    }
  }, 400_000);
});
