// Discovery against the companion's real local Nostr relay: public and private meshes, an outsider
// without the secret, and forged announcements.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalizeEvent, type Event } from 'nostr-tools/pure';
import type { Relay } from 'nostr-tools/relay';
import { startNostrRelay, type RunningNostrRelay } from '../companion/nostr-relay.ts';
import { MESH_ANNOUNCEMENT_KIND } from '../protocol/mesh-announcement.ts';
import { createAnnouncement, validateAnnouncement, type AnnouncementFacts } from './announce.ts';
import { connectRelay, publishAnnouncement, watchAnnouncements } from './discovery.ts';
import { createIdentity, type MeshIdentity } from './identity.ts';
import { encryptContent, newMeshSecret, openMesh, type MeshAccess } from './mesh-keys.ts';

let relay: RunningNostrRelay;
let url: string;
const clients: Relay[] = [];

beforeAll(async () => {
  relay = await startNostrRelay({ host: '127.0.0.1', port: 0 });
  url = `ws://127.0.0.1:${relay.port}`;
});

afterAll(async () => {
  for (const c of clients) c.close();
  await relay.stop();
});

async function client(): Promise<Relay> {
  const c = await connectRelay(url);
  clients.push(c);
  return c;
}

const facts = (port: number): AnnouncementFacts => ({
  multiaddrs: [`/ip4/127.0.0.1/tcp/${port}/ws`],
  role: 'server',
  backend: 'node',
  memoryBudgetBytes: 512 * 2 ** 20,
  layerTokensPerSecond: 900,
  models: [{ model: 'tiny-llama-f32' }],
});

/** Mallory signs, with her own Nostr key, a copy of `victim`'s announcement body: someone else's peer id. */
function forge(victim: Event, mallory: MeshIdentity, content = victim.content): Event {
  return finalizeEvent({ kind: victim.kind, created_at: victim.created_at, tags: victim.tags, content }, mallory.nostrSecretKey);
}

describe('discovery over the local relay', () => {
  it('shows members a private mesh, outsiders nothing, and drops forged announcements', { timeout: 20_000 }, async () => {
    const [alice, bob, carol, mallory, dave] = await Promise.all([createIdentity(), createIdentity(), createIdentity(), createIdentity(), createIdentity()]);
    const lab = await openMesh({ visibility: 'public', name: 'Open Lab' });
    const secret = newMeshSecret();
    const team = await openMesh({ visibility: 'private', secret });
    const publisher = await client();

    const aliceEvent = await createAnnouncement(alice, lab, facts(4001));
    const bobEvent = await createAnnouncement(bob, team, facts(4002));
    const carolEvent = await createAnnouncement(carol, team, facts(4003));
    await publishAnnouncement(publisher, aliceEvent);
    await publishAnnouncement(publisher, bobEvent);
    await publishAnnouncement(publisher, carolEvent);
    // Mallory claims Alice's peer id in the public mesh; Dave, a member, claims Bob's in the private one.
    await publishAnnouncement(publisher, forge(aliceEvent, mallory));
    const daveOwn = await createAnnouncement(dave, team, facts(4005));
    const bobBody = await validateAnnouncement(bobEvent, team);
    if (!bobBody.ok) throw new Error(bobBody.reason);
    if (team.visibility !== 'private') throw new Error('unreachable');
    const daveClaimsBob = await encryptContent(team.announceKey, team.meshId, dave.nostrPubkey, JSON.stringify(bobBody.value.body));
    await publishAnnouncement(publisher, forge(daveOwn, dave, daveClaimsBob));

    // A member (holds the secret, opens the mesh itself) sees Bob and Carol, decrypted and checked.
    const member = await openMesh({ visibility: 'private', secret });
    const rejections: string[] = [];
    const memberWatch = watchAnnouncements(await client(), { mesh: member, onRejected: (code) => rejections.push(code) });
    await memberWatch.synced;
    expect(
      memberWatch.table
        .list()
        .map((a) => a.body.peerId)
        .sort(),
    ).toEqual([bob.peerId, carol.peerId].sort());
    expect(memberWatch.table.get(bob.peerId)?.body.multiaddrs).toEqual(['/ip4/127.0.0.1/tcp/4002/ws']);
    expect(memberWatch.table.get(bob.peerId)?.nostrPubkey).toBe(bob.nostrPubkey);
    expect(rejections).toEqual(['binding_mismatch']);

    // The public listing shows Alice (once: Mallory's copy is refused) and nothing of the private mesh.
    const publicRejections: string[] = [];
    const listing = watchAnnouncements(await client(), { onRejected: (code) => publicRejections.push(code) });
    await listing.synced;
    expect(listing.table.list().map((a) => a.body.peerId)).toEqual([alice.peerId]);
    expect(listing.table.get(alice.peerId)?.body.meshName).toBe('open lab');
    expect(publicRejections).toEqual(['binding_mismatch']);

    // An outsider who fetches every announcement learns no peer id or address of the private mesh,
    // and cannot validate them, whether with another secret or with the mesh id it saw.
    const outsider = await client();
    const all = await new Promise<Event[]>((resolve) => {
      const seen: Event[] = [];
      const sub = outsider.subscribe([{ kinds: [MESH_ANNOUNCEMENT_KIND] }], {
        onevent: (e) => seen.push(e),
        oneose: () => {
          sub.close();
          resolve(seen);
        },
      });
    });
    const sealed = all.filter((e) => e.tags.some((t) => t[0] === 'd' && t[1] === team.meshId));
    expect(sealed).toHaveLength(3);
    for (const e of sealed) {
      for (const secretFact of [bob.peerId, carol.peerId, '4002', '4003', 'tiny-llama']) expect(e.content).not.toContain(secretFact);
      const guess: MeshAccess = await openMesh({ visibility: 'private', secret: newMeshSecret() });
      expect(await validateAnnouncement(e, guess)).toMatchObject({ ok: false, code: 'wrong_mesh' });
      if (guess.visibility !== 'private') throw new Error('unreachable');
      expect(await validateAnnouncement(e, { ...guess, meshId: team.meshId })).toMatchObject({ ok: false, code: 'undecryptable' });
      expect(await validateAnnouncement(e, undefined)).toMatchObject({ ok: false });
    }

    // A live announcement after the stored ones reaches the member's table.
    // (Publish only after EOSE: before it, an event can slip between the relay's query and its subscription.)
    let resolveJoined!: (peerId: string) => void;
    const joined = new Promise<string>((resolve) => (resolveJoined = resolve));
    const live = watchAnnouncements(await client(), { mesh: member, onPeer: (a) => a.body.peerId === dave.peerId && resolveJoined(a.body.peerId) });
    await live.synced;
    // A later created_at: a relay keeps one replaceable event per author and mesh, the newest.
    await publishAnnouncement(publisher, await createAnnouncement(dave, team, facts(4006), { now: daveOwn.created_at + 1 }));
    expect(await joined).toBe(dave.peerId);
    for (const w of [memberWatch, listing, live]) w.close();
  });
});
