// A mesh with no companion: a head peer makes the invite (its bootstrap only names its peer id) and
// members join from it with nothing but the Nostr relay between them; every pair links over
// WebRTC signalled on the relay and proves membership, and an outsider's offers are dropped.
import { RTCPeerConnection } from 'node-datachannel/polyfill';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNostrRelay, type RunningNostrRelay } from '../../companion/nostr-relay.ts';
import { createIdentity, type MeshIdentity } from '../identity.ts';
import { createInvite, type Invite } from '../invite.ts';
import { PeerNode } from './peer-node.ts';

const peerConnection = RTCPeerConnection as unknown as typeof globalThis.RTCPeerConnection;
let nostr: RunningNostrRelay;
const peers: PeerNode[] = [];

beforeAll(async () => {
  nostr = await startNostrRelay({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  for (const p of peers) await p.stop().catch(() => {});
  await nostr?.stop();
});

async function start(identity: MeshIdentity, invite: Invite, head = false): Promise<PeerNode> {
  const peer = new PeerNode({
    identity,
    invite,
    head,
    role: head ? 'client' : 'server',
    backend: 'wasm',
    memoryBudgetBytes: 1 << 20,
    webrtc: false,
    peerConnection,
  });
  peers.push(peer);
  await peer.start();
  return peer;
}

const linkedMembers = (p: PeerNode) =>
  p
    .snapshot()
    .peers.filter((v) => v.member && v.links.includes('webrtc'))
    .map((v) => v.peerId)
    .sort();

describe('a mesh headed by a peer with no server of ours', () => {
  it('links the head and its members to each other over WebRTC signalled on the relay, and drops an outsider', async () => {
    const headIdentity = await createIdentity();
    const invite = await createInvite({ bootstrap: [`/p2p/${headIdentity.peerId}`], relays: [`ws://127.0.0.1:${nostr.port}`] });
    const head = await start(headIdentity, invite, true);
    const members = [await start(await createIdentity(), invite), await start(await createIdentity(), invite)];
    const all = [head, ...members];
    const ids = all.map((p) => p.snapshot().peerId);
    for (const p of all) {
      const others = ids.filter((id) => id !== p.snapshot().peerId).sort();
      await expect.poll(() => linkedMembers(p), { timeout: 20_000, interval: 100 }).toEqual(others);
    }
    expect(members.every((m) => m.snapshot().peers.find((v) => v.peerId === headIdentity.peerId)?.companion)).toBe(true);

    // Someone with another mesh's invite, announcing on the same relay: nobody links to it.
    const outsiderInvite = await createInvite({ bootstrap: [`/p2p/${headIdentity.peerId}`], relays: invite.relays });
    const outsider = await start(await createIdentity(), outsiderInvite);
    await new Promise((r) => setTimeout(r, 3000));
    expect(outsider.snapshot().peers.filter((v) => v.member)).toEqual([]);
    for (const p of all) expect(linkedMembers(p)).not.toContain(outsider.snapshot().peerId);
  }, 60_000);

  it('links a member that comes back under its peer id at once, even while an offer to its old self waits for an answer', async () => {
    // The lower id offers: pick ids so the member that leaves and comes back is the higher one.
    let [x, b] = [await createIdentity(), await createIdentity()];
    if (x.peerId > b.peerId) [x, b] = [b, x];
    const invite = await createInvite({ bootstrap: [`/p2p/${x.peerId}`], relays: [`ws://127.0.0.1:${nostr.port}`] });
    const head = await start(x, invite, true);
    const first = await start(b, invite);
    await expect.poll(() => linkedMembers(head), { timeout: 20_000, interval: 100 }).toEqual([b.peerId]);
    await first.stop();
    // The head offers its old link's peer again a second after the link drops; the member is back later,
    // subscribed too late for that offer (signals are not stored), and asks for a link.
    await new Promise((r) => setTimeout(r, 1600));
    const started = Date.now();
    const again = await start(b, invite);
    await expect.poll(() => linkedMembers(again), { timeout: 20_000, interval: 50 }).toEqual([x.peerId]);
    const ms = Date.now() - started;
    console.log(`a member back under its peer id linked again in ${ms} ms`);
    // The head's first offer waits up to 10 s for an answer that never comes: the ring must cut that short.
    expect(ms).toBeLessThan(6000);
  }, 60_000);
});
