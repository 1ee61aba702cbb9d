import { describe, expect, it } from 'vitest';
import { finalizeEvent, type Event } from 'nostr-tools/pure';
import { MESH_ANNOUNCEMENT_KIND, PUBLIC_MESH_TAG } from '../protocol/mesh-announcement.ts';
import { createAnnouncement, validateAnnouncement, type AnnouncementFacts } from './announce.ts';
import { createIdentity, signBinding } from './identity.ts';
import { newMeshSecret, openMesh } from './mesh-keys.ts';

const NOW = 1_800_000_000;
const facts: AnnouncementFacts = {
  multiaddrs: ['/ip4/127.0.0.1/tcp/4002/ws'],
  role: 'server',
  backend: 'webgpu',
  memoryBudgetBytes: 2 ** 30,
  layerTokensPerSecond: 1234.5,
  models: [{ model: 'tiny-llama-f32', layers: { start: 0, end: 4 } }, { model: 'other' }],
};

/** Re-signs an edited copy with `secretKey`, as an attacker holding some Nostr key could. */
function resign(event: Event, secretKey: Uint8Array, edit: Partial<Event>): Event {
  const { kind, created_at, tags, content } = { ...event, ...edit };
  return finalizeEvent({ kind, created_at, tags, content }, secretKey);
}

describe('public and named announcements', () => {
  it('round-trips through the validator', async () => {
    const id = await createIdentity();
    const mesh = await openMesh({ visibility: 'public', name: 'Open Lab' });
    const event = await createAnnouncement(id, mesh, facts, { now: NOW });
    expect(event.kind).toBe(MESH_ANNOUNCEMENT_KIND);
    expect(event.tags).toContainEqual(['t', PUBLIC_MESH_TAG]);
    const checked = await validateAnnouncement(JSON.parse(JSON.stringify(event)), mesh, { now: NOW + 1 });
    expect(checked).toMatchObject({ ok: true, value: { nostrPubkey: id.nostrPubkey, visibility: 'public', expiresAt: NOW + 600 } });
    if (!checked.ok) return;
    expect(checked.value.body).toMatchObject({ ...facts, peerId: id.peerId, meshName: 'open lab', meshId: mesh.meshId });
    // Anyone can list public meshes without knowing the name.
    expect((await validateAnnouncement(event, undefined, { now: NOW })).ok).toBe(true);
  });

  it('finds a named mesh only by its name and keeps it out of the public listing', async () => {
    const id = await createIdentity();
    const mesh = await openMesh({ visibility: 'named', name: '  Team   Alpha ' });
    expect((await openMesh({ visibility: 'named', name: 'team alpha' })).meshId).toBe(mesh.meshId);
    const event = await createAnnouncement(id, mesh, facts, { now: NOW });
    expect(event.tags.some((t) => t[1] === PUBLIC_MESH_TAG)).toBe(false);
    // On the relay the name appears only as its hash (the d tag): not in the tags, not in the body.
    expect(JSON.stringify(event).toLowerCase()).not.toContain('alpha');
    expect(event.tags.find((t) => t[0] === 'd')?.[1]).toBe(mesh.meshId);
    expect((await validateAnnouncement(event, mesh, { now: NOW })).ok).toBe(true);
    expect(await validateAnnouncement(event, undefined, { now: NOW })).toMatchObject({ ok: false, code: 'wrong_mesh' });
    const other = await openMesh({ visibility: 'named', name: 'team beta' });
    expect(await validateAnnouncement(event, other, { now: NOW })).toMatchObject({ ok: false, code: 'wrong_mesh' });
  });

  it('rejects expired, future, wrong-version, tampered and forged announcements with a reason', async () => {
    const alice = await createIdentity();
    const mallory = await createIdentity();
    const mesh = await openMesh({ visibility: 'public', name: 'lab' });
    const event = await createAnnouncement(alice, mesh, facts, { now: NOW, ttlS: 60 });
    const check = (e: unknown, now = NOW) => validateAnnouncement(e, mesh, { now });
    expect(await check(event, NOW + 61)).toMatchObject({ ok: false, code: 'expired' });
    expect(await check(event, NOW - 3600)).toMatchObject({ ok: false, code: 'not_yet_valid' });
    const v2 = resign(event, alice.nostrSecretKey, { tags: event.tags.map((t) => (t[0] === 'v' ? ['v', '2'] : t)) });
    expect(await check(v2)).toMatchObject({ ok: false, code: 'unsupported_version', reason: expect.stringContaining('update') });
    const body = JSON.parse(event.content);
    expect(await check(resign(event, alice.nostrSecretKey, { content: JSON.stringify({ ...body, protocol: 2 }) }))).toMatchObject({
      code: 'unsupported_version',
    });
    expect(await check({ ...JSON.parse(JSON.stringify(event)), content: event.content.replace('1234.5', '9999') })).toMatchObject({ code: 'bad_signature' });
    // Valid Nostr signature, but Mallory claims Alice's peer id (copying her binding too).
    expect(await check(resign(event, mallory.nostrSecretKey, {}))).toMatchObject({ ok: false, code: 'binding_mismatch' });
    // Mallory's own key and binding, with Alice's peer id swapped in.
    const mb = await signBinding(mallory);
    const swapped = JSON.stringify({ ...body, ...mb, peerId: alice.peerId });
    expect(await check(resign(event, mallory.nostrSecretKey, { content: swapped }))).toMatchObject({ ok: false, code: 'binding_mismatch' });
    const eternal = resign(event, alice.nostrSecretKey, { tags: event.tags.map((t) => (t[0] === 'expiration' ? ['expiration', String(NOW + 86400)] : t)) });
    expect(await check(eternal)).toMatchObject({ ok: false, code: 'malformed' });
    const renamed = resign(event, alice.nostrSecretKey, { content: JSON.stringify({ ...body, meshName: 'official' }) });
    expect(await check(renamed)).toMatchObject({ ok: false, code: 'wrong_mesh' });
    const badRole = resign(event, alice.nostrSecretKey, { content: JSON.stringify({ ...body, role: 'admin' }) });
    expect(await check(badRole)).toMatchObject({ ok: false, code: 'malformed', reason: expect.stringContaining('role') });
  });

  it('never throws on arbitrary input', async () => {
    const mesh = await openMesh({ visibility: 'public', name: 'lab' });
    const inputs: unknown[] = [
      undefined,
      null,
      0,
      'x',
      [],
      {},
      { kind: MESH_ANNOUNCEMENT_KIND },
      { kind: MESH_ANNOUNCEMENT_KIND, tags: [[]], id: 'a'.repeat(64), pubkey: 'b'.repeat(64), sig: 'c'.repeat(128), created_at: NOW, content: '' },
    ];
    const hostile = new Proxy(
      {},
      {
        get: () => {
          throw new Error('boom');
        },
      },
    );
    inputs.push(hostile);
    for (const input of inputs) {
      const result = await validateAnnouncement(input, mesh, { now: NOW });
      expect(result.ok).toBe(false);
    }
  });
});

describe('private announcements', () => {
  it('are readable only with the mesh secret and cannot be forged without it', async () => {
    const alice = await createIdentity();
    const secret = newMeshSecret();
    const mesh = await openMesh({ visibility: 'private', secret });
    const event = await createAnnouncement(alice, mesh, facts, { now: NOW });
    expect(event.content.startsWith('enc1:')).toBe(true);
    expect(event.content).not.toContain(alice.peerId);
    expect(event.content).not.toContain('127.0.0.1');
    const ok = await validateAnnouncement(event, mesh, { now: NOW });
    expect(ok).toMatchObject({ ok: true, value: { visibility: 'private', body: { peerId: alice.peerId } } });
    if (ok.ok) expect(ok.value.body.meshName).toBeUndefined();

    // Another secret, a public listing, or a plaintext event under the same d tag: all rejected.
    const outsider = await openMesh({ visibility: 'private', secret: newMeshSecret() });
    expect(await validateAnnouncement(event, outsider, { now: NOW })).toMatchObject({ ok: false, code: 'wrong_mesh' });
    expect(await validateAnnouncement(event, undefined, { now: NOW })).toMatchObject({ ok: false, code: 'wrong_mesh' });
    const mallory = await createIdentity();
    const plain = await createAnnouncement(mallory, await openMesh({ visibility: 'named', name: 'x' }), facts, { now: NOW });
    const injected = resign(plain, mallory.nostrSecretKey, { tags: event.tags });
    expect(await validateAnnouncement(injected, mesh, { now: NOW })).toMatchObject({ ok: false, code: 'undecryptable' });
    // Copying Alice's sealed content under Mallory's key fails: the ciphertext is bound to its author.
    expect(await validateAnnouncement(resign(event, mallory.nostrSecretKey, {}), mesh, { now: NOW })).toMatchObject({ ok: false, code: 'undecryptable' });
  });
});
