// Rotating the mesh secret keeps the members the head chooses: kept members receive the new mesh's
// invite (a credential bound to their peer id in it) from their head, a member left out receives
// nothing; the running head switches to the new secret at once, and on it (running, or restarted on
// the saved secret) the kept members are admitted while the left-out one, holding only the old
// invite, is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLibp2pNode, webSocketAddress, type CompanionLibp2p } from '../../companion/libp2p-node.ts';
import { startNostrRelay, type RunningNostrRelay } from '../../companion/nostr-relay.ts';
import { createIdentity, type MeshIdentity } from '../identity.ts';
import type { Invite } from '../invite.ts';
import { openMesh } from '../mesh-keys.ts';
import { startCompanionMesh, startMeshHead, type CompanionMesh, type MeshHead } from './companion-mesh.ts';
import type { PrivateMesh } from './membership-stream.ts';
import { PeerNode } from './peer-node.ts';

async function until(what: string, probe: () => boolean, timeoutMs = 40_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The head's STUN server: its invites carry it, the rotated one too. */
const ICE = [{ urls: 'stun:stun.example.org:3478' }];
let nostr: RunningNostrRelay;
let url: string;
let headIdentity: MeshIdentity;
const nodes: CompanionLibp2p[] = [];
let head: CompanionMesh;
let next: MeshHead | undefined;
const peers: PeerNode[] = [];

const member = async (identity: MeshIdentity, invite: Invite, onRekey?: (invite: Invite) => void) => {
  const peer = new PeerNode({ identity, invite, role: 'client', backend: 'wasm', memoryBudgetBytes: 0, webrtc: false, ...(onRekey ? { onRekey } : {}) });
  peers.push(peer);
  await peer.start();
  return peer;
};

beforeAll(async () => {
  nostr = await startNostrRelay({ host: '127.0.0.1', port: 0 });
  url = `ws://127.0.0.1:${nostr.port}`;
  headIdentity = await createIdentity();
  const libp2p = await startLibp2pNode({ host: '127.0.0.1', port: 0, keyDir: null, privateKey: headIdentity.libp2pKey });
  nodes.push(libp2p);
  head = await startCompanionMesh({
    libp2p,
    identity: headIdentity,
    cacheDir: null,
    appUrl: 'http://127.0.0.1:8080/',
    nostrUrl: url,
    libp2pAddress: webSocketAddress(libp2p),
    iceServers: ICE,
  });
});

afterAll(async () => {
  for (const p of peers) await p.stop().catch(() => {});
  await next?.stop();
  await head?.stop();
  for (const n of nodes) await n.stop();
  await nostr?.stop();
});

describe('rotating the mesh secret', () => {
  it('hands the new invite to the kept members only, and the new mesh admits them and refuses the rest', async () => {
    const ids = await Promise.all([createIdentity(), createIdentity(), createIdentity()]);
    const received = new Map<string, Invite>();
    const old = await Promise.all(ids.map((id) => member(id, head.invite, (invite) => received.set(id.peerId, invite))));
    await until('three members', () => ids.every((id) => head.node.isMember(id.peerId)));

    const keep = [ids[0].peerId, ids[1].peerId];
    const formerSecret = head.invite.secret;
    const formerInvite = head.invite;
    const rotation = await head.rotate({ keep, ttlS: 600 });
    expect(rotation.delivered).toEqual(keep);
    expect(rotation.missed).toEqual([]);
    expect(rotation.invite.meshId).not.toBe(formerInvite.meshId);
    expect(rotation.invite.secret).not.toBe(formerSecret);
    expect(formerInvite.iceServers).toEqual(ICE);
    expect(rotation.invite.iceServers).toEqual(ICE);
    await until('the kept members received the new invite', () => keep.every((id) => received.has(id)));
    expect(received.has(ids[2].peerId)).toBe(false);
    for (const id of keep) {
      const invite = received.get(id)!;
      expect(invite.meshId).toBe(rotation.invite.meshId);
      expect(invite.head).toBe(headIdentity.nostrPubkey);
      expect(JSON.parse(invite.credential!.content).member).toBe(id);
    }
    for (const p of old) await p.stop();

    // The head switched at once: the kept members get in with their new invites, the left-out one,
    // holding only the old secret, does not, and the head's own invite is the new mesh's.
    expect(head.invite.meshId).toBe(rotation.invite.meshId);
    expect(head.invite.secret).toBe(rotation.invite.secret);
    const joined: PeerNode[] = [];
    for (const id of ids.slice(0, 2)) joined.push(await member(id, received.get(id.peerId)!));
    joined.push(await member(ids[2], formerInvite));
    await until('kept members admitted by the running head', () => keep.every((id) => head.node.isMember(id)));
    // Each end checks the other, and whichever finds the wrong proof first hangs up (a former member's
    // wrong proof is checked again on its next connection): over 5 s neither ever holds the other as a member.
    const headId = headIdentity.peerId;
    for (let waited = 0; waited < 5000; waited += 100) {
      expect(head.node.isMember(ids[2].peerId)).toBe(false);
      expect(joined[2].meshLayer!.isMember(headId)).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Gossip runs on the new mesh's topic: the kept members hear the head and each other.
    await until(
      'kept members are members of each other',
      () => joined[0].meshLayer!.isMember(ids[1].peerId) && joined[1].meshLayer!.isMember(ids[0].peerId),
      30_000,
    );
    for (const p of joined) await p.stop();

    // The head on the new secret, requiring credentials (its address is new in this test: a restart).
    const libp2p = await startLibp2pNode({ host: '127.0.0.1', port: 0, keyDir: null, privateKey: headIdentity.libp2pKey });
    nodes.push(libp2p);
    const mesh = (await openMesh({ visibility: 'private', secret: rotation.invite.secret })) as PrivateMesh;
    const options = {
      libp2p,
      identity: headIdentity,
      appUrl: 'http://127.0.0.1:8080/',
      nostrUrl: url,
      libp2pAddress: webSocketAddress(libp2p),
      requireCredentials: true,
    };
    next = await startMeshHead(options, mesh, mesh, 'announcing failed');
    const at = (invite: Invite): Invite => ({ ...invite, bootstrap: [webSocketAddress(libp2p)] });
    for (const id of ids.slice(0, 2)) await member(id, at(received.get(id.peerId)!));
    // Left out: it has only the old invite (the old secret).
    await member(ids[2], at(formerInvite));
    await until('kept members admitted', () => keep.every((id) => next!.node.isMember(id)));
    await until('the left-out member refused', () => next!.node.refusedList().some((r) => r.peerId === ids[2].peerId));
    expect(next.node.isMember(ids[2].peerId)).toBe(false);
    // A kept member's credential is bound to its peer id: another identity showing it is refused.
    const thief = await createIdentity();
    await member(thief, at(received.get(ids[0].peerId)!));
    await until('a stolen credential refused', () => next!.node.refusedList().some((r) => r.peerId === thief.peerId && /another peer/.test(r.reason)));
  }, 180_000);
});
