// Signalling over the relay refuses whatever a member did not send to this peer just now: each
// forged, replayed, stale or misaddressed event is dropped with its reason and never answered.
import type { Event } from 'nostr-tools/pure';
import { finalizeEvent } from 'nostr-tools/pure';
import type { Relay } from 'nostr-tools/relay';
import { describe, expect, it } from 'vitest';
import { createIdentity, type MeshIdentity } from '../identity.ts';
import { newMeshSecret, openMesh } from '../mesh-keys.ts';
import type { PrivateMesh } from './membership-stream.ts';
import { SignalChannel, type Signal } from './nostr-signal.ts';

const openPrivate = async () => (await openMesh({ visibility: 'private', secret: newMeshSecret() })) as PrivateMesh;

/** A relay that keeps what is published, so a test can hand each event to whom it likes. */
function capturingRelay(): { relay: Relay; published: Event[] } {
  const published: Event[] = [];
  const relay = { publish: async (e: Event) => void published.push(e), subscribe: () => ({ close() {} }) } as unknown as Relay;
  return { relay, published };
}

async function channel(identity: MeshIdentity, mesh: PrivateMesh, now = () => Date.now()) {
  const { relay, published } = capturingRelay();
  const received: Signal[] = [];
  const ch = new SignalChannel({ relay, identity, mesh, now, onSignal: (s) => received.push(s) });
  return { ch, published, received };
}

describe('WebRTC signalling over Nostr', () => {
  it('passes a member’s offer on once, and drops the same event or the same handshake again as replays', async () => {
    const mesh = await openPrivate();
    const [a, b] = [await createIdentity(), await createIdentity()];
    const sender = await channel(a, mesh);
    const receiver = await channel(b, mesh);
    await sender.ch.send({ peerId: b.peerId, nostrPubkey: b.nostrPubkey }, 'offer', SignalChannel.newSession(), 'v=0 sdp');
    const [event] = sender.published;
    await receiver.ch.receive(event as Event);
    expect(receiver.received).toEqual([expect.objectContaining({ type: 'offer', fromPeerId: a.peerId, fromNostrPubkey: a.nostrPubkey, sdp: 'v=0 sdp' })]);
    await receiver.ch.receive(event as Event);
    // The author's own content re-signed as a new event (a new id): still the same handshake.
    const resigned = finalizeEvent({ kind: event!.kind, created_at: event!.created_at + 1, tags: event!.tags, content: event!.content }, a.nostrSecretKey);
    await receiver.ch.receive(resigned);
    expect(receiver.received).toHaveLength(1);
    expect(receiver.ch.dropped()).toEqual({ replayed: 2 });
  });

  it('drops a signal sealed with another mesh’s key, one whose sender claims another peer id, and one with a forged membership proof', async () => {
    const mesh = await openPrivate();
    const other = await openPrivate();
    const [a, b, mallory] = [await createIdentity(), await createIdentity(), await createIdentity()];
    const receiver = await channel(b, mesh);
    const to = { peerId: b.peerId, nostrPubkey: b.nostrPubkey };

    const outsider = await channel(mallory, other);
    await outsider.ch.send(to, 'offer', SignalChannel.newSession(), 'sdp');
    await receiver.ch.receive(outsider.published[0] as Event);

    // A member's sealed body, re-sealed and signed by another key: its binding names a, not mallory.
    const honest = await channel(a, mesh);
    await honest.ch.send(to, 'offer', SignalChannel.newSession(), 'sdp');
    const { decryptContent, encryptContent } = await import('../mesh-keys.ts');
    const plain = await decryptContent(mesh.announceKey, mesh.meshId, a.nostrPubkey, honest.published[0]!.content);
    const content = await encryptContent(mesh.announceKey, mesh.meshId, mallory.nostrPubkey, plain as string);
    await receiver.ch.receive(
      finalizeEvent(
        { kind: honest.published[0]!.kind, created_at: honest.published[0]!.created_at, tags: [['p', b.nostrPubkey]], content },
        mallory.nostrSecretKey,
      ),
    );

    // Someone who can seal (the announcement key leaked) but not prove membership.
    const halfKeys: PrivateMesh = { ...mesh, memberKey: other.memberKey };
    const forger = await channel(a, halfKeys);
    await forger.ch.send(to, 'offer', SignalChannel.newSession(), 'sdp');
    await receiver.ch.receive(forger.published[0] as Event);

    expect(receiver.received).toEqual([]);
    expect(receiver.ch.dropped()).toEqual({ 'wrong-key': 1, 'unbound-sender': 1, 'non-member': 1 });
  });

  it('drops stale signals, signals for another peer and events that are not signals', async () => {
    const mesh = await openPrivate();
    const [a, b, c] = [await createIdentity(), await createIdentity(), await createIdentity()];
    let clock = Date.now();
    const receiver = await channel(b, mesh, () => clock);
    const sender = await channel(a, mesh);
    await sender.ch.send({ peerId: b.peerId, nostrPubkey: b.nostrPubkey }, 'offer', SignalChannel.newSession(), 'sdp');
    // Addressed to b's Nostr key, but sealed for c's peer id.
    await sender.ch.send({ peerId: c.peerId, nostrPubkey: b.nostrPubkey }, 'offer', SignalChannel.newSession(), 'sdp');
    clock += 2 * 60_000;
    await receiver.ch.receive(sender.published[0] as Event);
    clock -= 2 * 60_000;
    await receiver.ch.receive(sender.published[1] as Event);
    await receiver.ch.receive({ ...sender.published[0]!, content: 'tampered' });
    await receiver.ch.receive(finalizeEvent({ kind: 1, created_at: Math.floor(clock / 1000), tags: [], content: 'hi' }, a.nostrSecretKey));
    expect(receiver.received).toEqual([]);
    expect(receiver.ch.dropped()).toEqual({ stale: 1, 'not-for-me': 1, 'bad-event': 2 });
  });
});
