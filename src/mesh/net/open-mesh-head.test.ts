// Heads are keys: an open mesh's link names its head's Nostr key, and a tab follows only that key's
// announcement (and so only its bound peer id's signed plans). Strangers announcing the same name
// with a later, even future, timestamp are ignored; without a key, future-dated ones still are.
import { nip19 } from 'nostr-tools';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLibp2pNode, webSocketAddress, type CompanionLibp2p } from '../../companion/libp2p-node.ts';
import { startNostrRelay, type RunningNostrRelay } from '../../companion/nostr-relay.ts';
import { createAnnouncement, validateAnnouncement, type ValidAnnouncement } from '../announce.ts';
import { connectRelay, publishAnnouncement, watchAnnouncements } from '../discovery.ts';
import { parseHeadKey } from '../head-key.ts';
import { createIdentity, type MeshIdentity } from '../identity.ts';
import { startOpenCompanionMesh, type OpenCompanionMesh } from './open-companion-mesh.ts';
import { openMeshLink, readOpenMeshLink } from './open-mesh-link.ts';
import { HEAD_CLOCK_SKEW_S, openMeshKeys, pickHead, resolveOpenMesh } from './open-mesh.ts';

const NOW = 1_800_000_000;

/** A head-shaped announcement (a Node peer with a WebSockets address naming its own peer id). */
async function headAnnouncement(identity: MeshIdentity, name: string, createdAt: number, port = 9999) {
  const { access } = await openMeshKeys(name, 'named');
  return createAnnouncement(
    identity,
    access,
    {
      multiaddrs: [`/ip4/127.0.0.1/tcp/${port}/ws/p2p/${identity.peerId}`],
      role: 'server',
      backend: 'node',
      memoryBudgetBytes: 0,
      layerTokensPerSecond: 0,
      models: [],
    },
    { now: createdAt },
  );
}

async function valid(identity: MeshIdentity, createdAt: number, now = NOW): Promise<ValidAnnouncement> {
  const { access } = await openMeshKeys('club', 'named');
  const checked = await validateAnnouncement(await headAnnouncement(identity, 'club', createdAt), access, { now });
  if (!checked.ok) throw new Error(checked.reason);
  return checked.value;
}

describe('head keys in links', () => {
  it('reads head= as an npub or hex key, and flags one that is neither', async () => {
    const id = await createIdentity();
    const npub = nip19.npubEncode(id.nostrPubkey);
    expect(parseHeadKey(npub)).toBe(id.nostrPubkey);
    expect(parseHeadKey(id.nostrPubkey.toUpperCase())).toBe(id.nostrPubkey);
    // One character changed: the bech32 checksum catches it.
    const typo = npub.slice(0, 10) + (npub[10] === 'q' ? 'p' : 'q') + npub.slice(11);
    expect(parseHeadKey(typo)).toBeUndefined();
    expect(parseHeadKey(nip19.nsecEncode(id.nostrSecretKey))).toBeUndefined();
    const link = openMeshLink('http://127.0.0.1:8080/', 'club', 'named', id.nostrPubkey);
    expect(readOpenMeshLink(link)).toEqual({ name: 'club', visibility: 'named', auto: false, head: id.nostrPubkey });
    expect(readOpenMeshLink(`http://127.0.0.1:8080/#mesh=club&head=${npub}&auto=1`)?.head).toBe(id.nostrPubkey);
    expect(readOpenMeshLink('http://127.0.0.1:8080/#mesh=club&head=nonsense')).toMatchObject({ name: 'club', badHead: 'nonsense' });
    expect(readOpenMeshLink('http://127.0.0.1:8080/#mesh=club')?.head).toBeUndefined();
  });
});

describe('pickHead', () => {
  it('with a key, picks only that key’s announcement, however new the others', async () => {
    const head = await createIdentity();
    const strangers = await Promise.all([createIdentity(), createIdentity()]);
    const real = await valid(head, NOW - 100);
    const fakes = [await valid(strangers[0], NOW + 250), await valid(strangers[1], NOW)];
    expect(pickHead([real, ...fakes], { head: head.nostrPubkey, now: NOW })?.nostrPubkey).toBe(head.nostrPubkey);
    expect(pickHead(fakes, { head: head.nostrPubkey, now: NOW })).toBeUndefined();
  });

  it('without a key, ignores announcements dated ahead of the clock (the stranger who is always “newest”)', async () => {
    const head = await createIdentity();
    const stranger = await createIdentity();
    const real = await valid(head, NOW - 5);
    // Inside the relays' 300 s skew, so it validates; beyond the head rule's small skew.
    const future = await valid(stranger, NOW + HEAD_CLOCK_SKEW_S + 1);
    expect(pickHead([real, future], { now: NOW })?.nostrPubkey).toBe(head.nostrPubkey);
    // Within the small skew it is a clock difference, not an attack: the newest counts (this is why a link should name its head).
    const near = await valid(stranger, NOW + 2);
    expect(pickHead([real, near], { now: NOW })?.nostrPubkey).toBe(stranger.nostrPubkey);
  });

  it('never takes an address that names another peer id than the announcement’s own', async () => {
    const stranger = await createIdentity();
    const victim = await createIdentity();
    const { access } = await openMeshKeys('club', 'named');
    const event = await createAnnouncement(
      stranger,
      access,
      {
        multiaddrs: [`/ip4/127.0.0.1/tcp/1/ws/p2p/${victim.peerId}`],
        role: 'server',
        backend: 'node',
        memoryBudgetBytes: 0,
        layerTokensPerSecond: 0,
        models: [],
      },
      { now: NOW },
    );
    const checked = await validateAnnouncement(event, access, { now: NOW });
    expect(checked.ok).toBe(true);
    if (checked.ok) expect(pickHead([checked.value], { now: NOW })).toBeUndefined();
  });
});

describe('a tab resolving a named mesh that strangers also announce', () => {
  let nostr: RunningNostrRelay;
  let url: string;
  let libp2p: CompanionLibp2p;
  let head: OpenCompanionMesh;

  beforeAll(async () => {
    nostr = await startNostrRelay({ host: '127.0.0.1', port: 0 });
    url = `ws://127.0.0.1:${nostr.port}`;
    const identity = await createIdentity();
    libp2p = await startLibp2pNode({ host: '127.0.0.1', port: 0, keyDir: null, privateKey: identity.libp2pKey });
    head = await startOpenCompanionMesh({
      libp2p,
      identity,
      name: 'club',
      visibility: 'named',
      appUrl: 'http://127.0.0.1:8080/',
      nostrUrl: url,
      libp2pAddress: webSocketAddress(libp2p),
    });
    // Five fake heads of the same name, dated up to 250 s ahead (inside what relays and validators accept).
    const relay = await connectRelay(url);
    const now = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 5; i++) await publishAnnouncement(relay, await headAnnouncement(await createIdentity(), 'club', now + 50 + i * 50, 40_000 + i));
    relay.close();
  });

  afterAll(async () => {
    await head?.stop();
    await libp2p?.stop();
    await nostr?.stop();
  });

  it('the companion’s link names its key, and the tab resolves to it and only it', async () => {
    const request = readOpenMeshLink(head.link);
    expect(request?.head).toBe(parseHeadKey(request?.head));
    const found = await resolveOpenMesh('club', 'named', [url], { head: request?.head as string, timeoutMs: 2000 });
    expect(found.authenticated).toBe(true);
    expect(found.head.body.peerId).toBe(libp2p.peerId.toString());
    expect(found.invite.bootstrap).toEqual([webSocketAddress(libp2p)]);
  });

  it('without a key the future-dated fakes are still ignored, and the answer says the head is unauthenticated', async () => {
    // The fakes are on the relay and valid: they were there to be picked.
    const relay = await connectRelay(url);
    const watch = watchAnnouncements(relay, { mesh: (await openMeshKeys('club', 'named')).access });
    await watch.synced;
    expect(watch.table.list().filter((a) => a.body.backend === 'node').length).toBe(6);
    watch.close();
    relay.close();
    const found = await resolveOpenMesh('club', 'named', [url], { timeoutMs: 2000 });
    expect(found.authenticated).toBe(false);
    expect(found.head.body.peerId).toBe(libp2p.peerId.toString());
  });

  it('a key nobody announces under is refused with a clear error, not replaced by another head', async () => {
    const nobody = await createIdentity();
    await expect(resolveOpenMesh('club', 'named', [url], { head: nobody.nostrPubkey, timeoutMs: 300 })).rejects.toThrow(/no head with key/);
  });
});
