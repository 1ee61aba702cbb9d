// Member credentials and revocation on running nodes: a head that requires credentials admits
// peers whose invite carries one it signed, refuses the printed invite (no credential), an expired
// credential and one signed by anyone else; revoking a member makes the head and the other members
// refuse it and hang up on it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLibp2pNode, webSocketAddress, type CompanionLibp2p } from '../../companion/libp2p-node.ts';
import { startNostrRelay, type RunningNostrRelay } from '../../companion/nostr-relay.ts';
import { issueCredential, verifyCredential } from '../credentials.ts';
import { createIdentity, type MeshIdentity } from '../identity.ts';
import { createInvite, decodeInvite, encodeInvite, type Invite } from '../invite.ts';
import { startCompanionMesh, type CompanionMesh } from './companion-mesh.ts';
import { PeerNode } from './peer-node.ts';

async function until(what: string, probe: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('member credentials', () => {
  it('are checked for signer, mesh, expiry, holder and revocation', async () => {
    const head = await createIdentity();
    const stranger = await createIdentity();
    const meshId = 'ab'.repeat(32);
    const now = 1_800_000_000;
    const expect_ = { meshId, head: head.nostrPubkey, peerId: 'peer-a', now };
    const good = issueCredential(head, meshId, { ttlS: 60, now });
    expect(verifyCredential(good, expect_)).toMatchObject({ ok: true, credential: { meshId, expiresAt: now + 60, head: head.nostrPubkey } });
    expect(verifyCredential(good, { ...expect_, now: now + 61 })).toMatchObject({ ok: false, reason: expect.stringMatching(/expired/) });
    expect(verifyCredential(good, { ...expect_, meshId: 'cd'.repeat(32) })).toMatchObject({ ok: false, reason: expect.stringMatching(/another mesh/) });
    expect(verifyCredential(issueCredential(stranger, meshId, { ttlS: 60, now }), expect_)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/not signed by this mesh’s head/),
    });
    expect(verifyCredential({ ...good, content: good.content.replace(/"exp":\d+/, `"exp":${now + 10 ** 6}`) }, expect_)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/signature/),
    });
    const bound = issueCredential(head, meshId, { ttlS: 60, now, member: 'peer-b' });
    expect(verifyCredential(bound, expect_)).toMatchObject({ ok: false, reason: expect.stringMatching(/another peer/) });
    expect(verifyCredential(good, { ...expect_, revoked: () => true })).toMatchObject({ ok: false, reason: expect.stringMatching(/revoked/) });
    for (const junk of [undefined, null, 'x', 42, {}, { kind: 1 }]) expect(verifyCredential(junk, expect_).ok).toBe(false);
  });

  it('ride in the invite (version 1, fields older apps ignore) and decode back', async () => {
    const head = await createIdentity();
    const invite = { ...(await createInvite({ bootstrap: [], relays: [] })), head: head.nostrPubkey };
    const credential = issueCredential(head, invite.meshId, { ttlS: 60 });
    const decoded = await decodeInvite(encodeInvite({ ...invite, credential }));
    expect(decoded.head).toBe(head.nostrPubkey);
    expect(decoded.credential).toEqual(JSON.parse(JSON.stringify(credential)));
    // The holder's check passes on the decoded copy (no state of the signing call is needed).
    expect(verifyCredential(decoded.credential, { meshId: invite.meshId, head: head.nostrPubkey, peerId: 'anyone' }).ok).toBe(true);
  });
});

describe('a head that requires credentials', () => {
  let nostr: RunningNostrRelay;
  let libp2p: CompanionLibp2p;
  let head: CompanionMesh;
  let headIdentity: MeshIdentity;
  const peers: PeerNode[] = [];

  const join = async (invite: Invite, identity?: MeshIdentity) => {
    const peer = new PeerNode({
      identity: identity ?? (await createIdentity()),
      invite,
      role: 'client',
      backend: 'wasm',
      memoryBudgetBytes: 0,
      webrtc: false,
      listen: ['/ip4/127.0.0.1/tcp/0/ws'],
    });
    peers.push(peer);
    await peer.start();
    return peer;
  };

  beforeAll(async () => {
    nostr = await startNostrRelay({ host: '127.0.0.1', port: 0 });
    headIdentity = await createIdentity();
    libp2p = await startLibp2pNode({ host: '127.0.0.1', port: 0, keyDir: null, privateKey: headIdentity.libp2pKey });
    head = await startCompanionMesh({
      libp2p,
      identity: headIdentity,
      cacheDir: null,
      appUrl: 'http://127.0.0.1:8080/',
      nostrUrl: `ws://127.0.0.1:${nostr.port}`,
      libp2pAddress: webSocketAddress(libp2p),
      requireCredentials: true,
      membershipTimeoutMs: 3000,
    });
  });

  afterAll(async () => {
    for (const p of peers) await p.stop().catch(() => {});
    await head?.stop();
    await libp2p?.stop();
    await nostr?.stop();
  });

  it('admits credentialed members, refuses the rest, and a revoked member is dropped by everyone', async () => {
    const a = await join(head.issueInvite({ ttlS: 600 }).invite);
    const issuedB = head.issueInvite({ ttlS: 600 });
    const b = await join(issuedB.invite);
    const idOf = (p: PeerNode) => p.snapshot().peerId;
    await until('a and b admitted by the head', () => head.node.isMember(idOf(a)) && head.node.isMember(idOf(b)));

    // The printed invite (no credential), an expired credential, and one a stranger signed.
    const bare = await join(head.invite);
    // Signed by the head a minute ago for 10 s: expired at the first handshake.
    const expired = await join({
      ...head.invite,
      credential: issueCredential(headIdentity, head.invite.meshId, { ttlS: 10, now: Math.floor(Date.now() / 1000) - 60 }),
    });
    const forged = await join({ ...head.invite, credential: issueCredential(await createIdentity(), head.invite.meshId, { ttlS: 600 }) });
    const reasonFor = (p: PeerNode) => head.node.refusedList().find((r) => r.peerId === idOf(p))?.reason ?? '';
    await until('the two refused', () => [bare, forged].every((p) => reasonFor(p) !== ''), 20_000);
    expect(reasonFor(bare)).toMatch(/credential refused: no member credential/);
    expect(reasonFor(forged)).toMatch(/not signed by this mesh’s head/);
    // The expired one (the holder may not even present it) is never let in.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const p of [bare, forged, expired]) expect(head.node.isMember(idOf(p))).toBe(false);

    // a and b link to each other (both listen); a checks b's credential against the head's key.
    await until('a and b members of each other', () => a.meshLayer!.isMember(idOf(b)) && b.meshLayer!.isMember(idOf(a)), 30_000);

    await head.revoke({ credentials: [issuedB.credentialId] });
    await until('the head refused b', () => /revoked/.test(reasonFor(b)) && !head.node.isMember(idOf(b)));
    await until('a heard the deny list and dropped b', () => !a.meshLayer!.isMember(idOf(b)) && a.meshLayer!.linksTo(idOf(b)).length === 0, 20_000);
    expect(a.snapshot().refused.find((r) => r.peerId === idOf(b))?.reason).toMatch(/revoked/);
    // a is untouched.
    expect(head.node.isMember(idOf(a))).toBe(true);
  }, 90_000);

  it('drops a member once its credential expires, and lets it back in with a new invite', async () => {
    const identity = await createIdentity();
    // Valid for 6 s: long enough for a loaded machine's handshake, short enough to watch it end.
    const first = await join(head.issueInvite({ ttlS: 6 }).invite, identity);
    const id = first.snapshot().peerId;
    await until('admitted', () => head.node.isMember(id), 6_000);
    const reason = () => head.node.refusedList().find((r) => r.peerId === id)?.reason ?? '';
    await until('dropped at expiry', () => !head.node.isMember(id) && /credential expired/.test(reason()), 15_000);
    // It may dial again at once (a refusal a new invite mends does not shut it out), and is refused again.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(head.node.isMember(id)).toBe(false);
    await first.stop();
    // The same peer with a fresh invite is checked again, not shut out.
    const again = await join(head.issueInvite({ ttlS: 600 }).invite, identity);
    expect(again.snapshot().peerId).toBe(id);
    await until('admitted again', () => head.node.isMember(id), 20_000);
    expect(reason()).toBe('');
  }, 60_000);
});
