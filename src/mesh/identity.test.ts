import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { finalizeEvent } from 'nostr-tools/pure';
import {
  PEER_PROOF_KIND,
  createIdentity,
  createPeerProof,
  identityFromRecord,
  identityToRecord,
  loadOrCreateIdentity,
  signBinding,
  verifyBinding,
  verifyPeerProof,
} from './identity.ts';
import { FileIdentityStore } from './identity-store-file.ts';
import { MemoryIdentityStore } from './identity-store-memory.ts';

describe('identity', () => {
  it('derives the peer id from the libp2p key and survives a round trip through its record', async () => {
    const id = await createIdentity();
    expect(id.peerId).toMatch(/^12D3KooW/);
    expect(id.nostrPubkey).toMatch(/^[0-9a-f]{64}$/);
    const back = identityFromRecord(JSON.parse(JSON.stringify(identityToRecord(id))));
    expect(back.peerId).toBe(id.peerId);
    expect(back.nostrPubkey).toBe(id.nostrPubkey);
  });

  it('loads the stored identity instead of making a new one', async () => {
    const store = new MemoryIdentityStore();
    const first = await loadOrCreateIdentity(store);
    const second = await loadOrCreateIdentity(store);
    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(second.identity.peerId).toBe(first.identity.peerId);
    expect(second.identity.nostrPubkey).toBe(first.identity.nostrPubkey);
  });

  it('replaces a damaged record with a new identity and says why', async () => {
    for (const damaged of [{ version: 2 }, { version: 1, nostrSecretKey: 'zz', libp2pPrivateKey: 'AA' }, 'text', null]) {
      const store = new MemoryIdentityStore(damaged);
      const loaded = await loadOrCreateIdentity(store);
      expect(loaded.created).toBe(true);
      expect(loaded.replaced?.code).toBe('identity_corrupt');
      expect((await loadOrCreateIdentity(store)).identity.peerId).toBe(loaded.identity.peerId);
    }
  });

  it('persists to a file in Node', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mesh-identity-'));
    try {
      const path = join(dir, 'sub', 'identity.json');
      const a = await loadOrCreateIdentity(new FileIdentityStore(path));
      const b = await loadOrCreateIdentity(new FileIdentityStore(path));
      expect(b.created).toBe(false);
      expect(b.identity.peerId).toBe(a.identity.peerId);
      expect(JSON.parse(await readFile(path, 'utf8')).version).toBe(1);
      await writeFile(path, '{not json');
      expect((await loadOrCreateIdentity(new FileIdentityStore(path))).replaced?.code).toBe('identity_corrupt');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('binding', () => {
  it('verifies a binding only for the Nostr key it names', async () => {
    const alice = await createIdentity();
    const bob = await createIdentity();
    const binding = await signBinding(alice);
    expect(await verifyBinding(alice.nostrPubkey, binding)).toEqual({ ok: true });
    // Bob cannot reuse Alice's binding for his Nostr key…
    expect((await verifyBinding(bob.nostrPubkey, binding)).ok).toBe(false);
    // …nor claim Alice's peer id with his own libp2p key.
    const bobs = await signBinding(bob);
    const claim = await verifyBinding(bob.nostrPubkey, { ...bobs, peerId: alice.peerId });
    expect(claim).toMatchObject({ ok: false, reason: expect.stringContaining('belongs to') });
    expect((await verifyBinding(alice.nostrPubkey, { ...binding, libp2pKey: '!!' })).ok).toBe(false);
    expect((await verifyBinding(alice.nostrPubkey, { ...binding, libp2pKey: 'AAAA' })).ok).toBe(false);
  });

  it('accepts a peer proof only from the connection it names, fresh and signed both ways', async () => {
    const alice = await createIdentity();
    const bob = await createIdentity();
    const now = 1_800_000_000;
    const proof = await createPeerProof(alice, now);
    expect(await verifyPeerProof(proof, alice.peerId, now + 10)).toEqual({ ok: true, nostrPubkey: alice.nostrPubkey, peerId: alice.peerId });
    expect((await verifyPeerProof(proof, bob.peerId, now)).ok).toBe(false);
    expect((await verifyPeerProof(proof, alice.peerId, now + 3600)).ok).toBe(false);
    expect((await verifyPeerProof({ ...proof, content: 'x' }, alice.peerId, now)).ok).toBe(false);
    // Bob signs an event carrying Alice's binding: the binding names Alice's Nostr key, not Bob's.
    const stolen = finalizeEvent({ kind: PEER_PROOF_KIND, created_at: now, content: '', tags: proof.tags }, bob.nostrSecretKey);
    expect(await verifyPeerProof(stolen, alice.peerId, now)).toMatchObject({ ok: false });
    for (const junk of [null, 1, 'x', [], { kind: PEER_PROOF_KIND }, { ...proof, tags: 'x' }]) {
      expect((await verifyPeerProof(junk, alice.peerId, now)).ok).toBe(false);
    }
  });
});
