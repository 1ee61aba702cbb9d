// Node peers (WebSockets + circuit relay, no WebRTC in Node) join the companion's private mesh from
// its invite: members find each other through the relay and gossip, a peer holding another secret
// is refused by the companion and learns nobody.
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { webSockets } from '@libp2p/websockets';
import { multiaddr } from '@multiformats/multiaddr';
import { lpStream } from '@libp2p/utils';
import { createLibp2p } from 'libp2p';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLibp2pNode, webSocketAddress, type CompanionLibp2p } from '../../companion/libp2p-node.ts';
import { startNostrRelay, type RunningNostrRelay } from '../../companion/nostr-relay.ts';
import { createIdentity } from '../identity.ts';
import { createInvite, decodeInvite, type Invite } from '../invite.ts';
import { proveMembership } from '../membership.ts';
import { openMesh } from '../mesh-keys.ts';
import { MEMBERSHIP_PROTOCOL } from './protocols.ts';
import type { PrivateMesh } from './membership-stream.ts';
import { startCompanionMesh, type CompanionMesh } from './companion-mesh.ts';
import { PeerNode } from './peer-node.ts';

let nostr: RunningNostrRelay;
let libp2p: CompanionLibp2p;
let companion: CompanionMesh;
const peers: PeerNode[] = [];

beforeAll(async () => {
  nostr = await startNostrRelay({ host: '127.0.0.1', port: 0 });
  const identity = await createIdentity();
  libp2p = await startLibp2pNode({ host: '127.0.0.1', port: 0, keyDir: null, privateKey: identity.libp2pKey });
  companion = await startCompanionMesh({
    libp2p,
    identity,
    cacheDir: null,
    appUrl: 'http://127.0.0.1:8080/',
    nostrUrl: `ws://127.0.0.1:${nostr.port}`,
    libp2pAddress: webSocketAddress(libp2p),
  });
});

afterAll(async () => {
  for (const p of peers) await p.stop().catch(() => {});
  await companion?.stop();
  await libp2p?.stop();
  await nostr?.stop();
});

async function join(invite: Invite): Promise<PeerNode> {
  const peer = new PeerNode({ identity: await createIdentity(), invite, role: 'server', backend: 'wasm', memoryBudgetBytes: 1 << 20, webrtc: false });
  peers.push(peer);
  await peer.start();
  return peer;
}

async function until(what: string, probe: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('joining the companion’s private mesh', () => {
  it('members find each other; a peer with another secret is refused and learns nobody', async () => {
    const invite = await decodeInvite(companion.token);
    expect(invite.bootstrap).toEqual([webSocketAddress(libp2p)]);
    const [a, b] = [await join(invite), await join(invite)];
    const companionId = libp2p.peerId.toString();
    const ids = [a, b].map((p) => p.snapshot().peerId);

    await until('both peers see the companion and each other as members', () =>
      [a, b].every((p, i) => {
        const s = p.snapshot();
        const member = (id: string) => s.peers.some((v) => v.peerId === id && v.member);
        return member(companionId) && member(ids[1 - i]);
      }),
    );
    await until('the companion verified both', () => ids.every((id) => companion.node.isMember(id)));
    const viewOfB = () => a.snapshot().peers.find((v) => v.peerId === ids[1])!;
    expect(viewOfB().announced).toBe(true); // found through the encrypted Nostr announcement
    await until('a linked to b through the companion', () => viewOfB().links.length > 0);
    expect(viewOfB().links).toContain('relay'); // linked through the companion's circuit relay
    expect(a.snapshot().peers.find((v) => v.peerId === companionId)!.links).toEqual(['websocket']);
    // Gossiped peer state reached the companion (validated on receipt).
    await until('peer state gossiped to the companion', () => companion.node.memberList().some((m) => m.peerId === ids[0] && m.state?.backend === 'wasm'));

    // Same bootstrap and relay, another secret: a well-formed invite of a different mesh.
    const outsider = await join(await createInvite({ bootstrap: invite.bootstrap, relays: invite.relays }));
    const outsiderId = outsider.snapshot().peerId;
    await until('the companion refused the outsider', () => companion.node.refusedList().some((r) => r.peerId === outsiderId));
    expect(companion.node.isMember(outsiderId)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(outsider.snapshot().peers.filter((p) => p.member || p.announced)).toEqual([]);
    for (const p of [a, b]) expect(p.snapshot().peers.map((v) => v.peerId)).not.toContain(outsiderId);
    expect(libp2p.getConnections().filter((c) => c.remotePeer.toString() === outsiderId)).toEqual([]);
  }, 40_000);

  it('a libp2p peer that does not speak the membership protocol is hung up on', async () => {
    const plain = await createLibp2p({
      transports: [webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() },
    });
    try {
      await plain.dial(multiaddr(webSocketAddress(libp2p)));
      const id = plain.peerId.toString();
      await until('the companion refused the plain peer', () => companion.node.refusedList().some((r) => r.peerId === id));
      await until('the companion hung up', () => plain.getConnections().length === 0);
      expect(companion.node.refusedList().find((r) => r.peerId === id)!.reason).toMatch(/no membership proof/);
    } finally {
      await plain.stop();
    }
  });

  it('a member that answers its challenge too late (a starved machine) is asked again and let in, not refused', async () => {
    const slowLibp2p = await startLibp2pNode({ host: '127.0.0.1', port: 0, keyDir: null, privateKey: (await createIdentity()).libp2pKey });
    const head = await startCompanionMesh({
      libp2p: slowLibp2p,
      identity: await createIdentity(),
      cacheDir: null,
      appUrl: 'http://127.0.0.1:8080/',
      nostrUrl: `ws://127.0.0.1:${nostr.port}`,
      libp2pAddress: webSocketAddress(slowLibp2p),
      membershipTimeoutMs: 400,
    });
    const invite = await decodeInvite(head.token);
    const mesh = (await openMesh({ visibility: 'private', secret: invite.secret })) as PrivateMesh;
    const late = await createLibp2p({
      transports: [webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() },
    });
    let challenges = 0;
    await late.handle(
      MEMBERSHIP_PROTOCOL,
      async (stream, connection) => {
        const lp = lpStream(stream);
        const challenge = (await lp.read()).subarray();
        // The first answer comes after the head stopped waiting; the second in time.
        if (++challenges === 1) await new Promise((resolve) => setTimeout(resolve, 800));
        const proof = await proveMembership(mesh, { proverPeerId: late.peerId.toString(), verifierPeerId: connection.remotePeer.toString(), challenge });
        await lp.write(proof).catch(() => {});
        await stream.close().catch(() => {});
      },
      { runOnLimitedConnection: true },
    );
    try {
      await late.dial(multiaddr(webSocketAddress(slowLibp2p)));
      const id = late.peerId.toString();
      await until('the late peer is a member', () => head.node.isMember(id));
      expect(challenges).toBe(2);
      expect(head.node.refusedList().map((r) => r.peerId)).not.toContain(id);
    } finally {
      await late.stop();
      await head.stop();
      await slowLibp2p.stop();
    }
  });

  it('a members-only protocol answers members and resets everyone else', async () => {
    const protocol = '/mesh-llm-web/test-echo/1.0.0';
    await companion.node.handleForMembers(protocol, async (stream) => {
      const lp = lpStream(stream);
      await lp.write((await lp.read()).subarray());
      await stream.close();
    });
    const member = await join(await decodeInvite(companion.token));
    const echo = async (node: { dialProtocol: CompanionLibp2p['dialProtocol'] }) => {
      const stream = await node.dialProtocol(multiaddr(webSocketAddress(libp2p)), protocol);
      const lp = lpStream(stream);
      await lp.write(new Uint8Array([1, 2, 3]));
      return [...(await lp.read({ signal: AbortSignal.timeout(5000) })).subarray()];
    };
    expect(await echo(member.node!)).toEqual([1, 2, 3]);
    const plain = await createLibp2p({
      transports: [webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() },
    });
    try {
      await expect(echo(plain)).rejects.toThrow();
    } finally {
      await plain.stop();
    }
  });

  it('the companion re-announces with strictly increasing created_at', async () => {
    const first = companion.announcer.published.at(-1)!;
    await companion.announcer.announce();
    await companion.announcer.announce();
    const times = companion.announcer.published.slice(-3).map((e) => e.created_at);
    expect(times[0]).toBe(first.created_at);
    expect(times[1]).toBeGreaterThan(times[0]);
    expect(times[2]).toBeGreaterThan(times[1]);
  });
});
