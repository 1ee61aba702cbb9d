// WebRTC signalling over the mesh's Nostr relay, so tabs link with no relay node of ours: one offer
// and one answer per link (non-trickle: each carries every ICE candidate), as ephemeral events the
// relay passes on and stores nothing of. Each is sealed with the mesh's key (the key announcements
// use, bound to the author's Nostr key), names its sender by a libp2p binding and carries a
// membership proof over its own content, so a relay or an outsider cannot make a member start a
// handshake: anything forged, replayed, stale or for someone else is dropped and counted.
import type { Event } from 'nostr-tools/pure';
import { finalizeEvent } from 'nostr-tools/pure';
import type { Relay } from 'nostr-tools/relay';
import { fromBase64Url, randomBytes, toBase64Url, toHex, utf8 } from '../bytes.ts';
import { signBinding, verifyBinding, verifyEventFresh, type MeshIdentity, type PeerBinding } from '../identity.ts';
import { decryptContent, encryptContent } from '../mesh-keys.ts';
import { proveMembership, verifyMembership } from '../membership.ts';
import type { PrivateMesh } from './membership-stream.ts';

/** Ephemeral (20000–29999): relays forward it to live subscribers and keep none. */
export const SIGNAL_KIND = 28_672;
/** A signal older (or further ahead) than this is dropped: no replay outlives it. */
export const SIGNAL_MAX_AGE_MS = 60_000;
/** An SDP with every host candidate is a few KiB; anything far larger is not ours. */
const MAX_SDP_CHARS = 32 * 1024;
/** Event ids remembered against replays (each for SIGNAL_MAX_AGE_MS, which the age check covers after). */
const MAX_REMEMBERED = 4096;

/**
 * offer/answer: one handshake. ring: "I have no link to you, offer me one" (empty sdp), sent by the
 * higher peer id, which never offers itself: a tab that came back finds its lower-id members still
 * holding its old, dead link, which no announcement of its own would make them replace.
 */
export type SignalType = 'offer' | 'answer' | 'ring';

export interface Signal {
  readonly type: SignalType;
  /** One handshake's id: the answer carries its offer's. */
  readonly session: string;
  readonly fromPeerId: string;
  /** The sender's Nostr key (where an answer goes). */
  readonly fromNostrPubkey: string;
  readonly sdp: string;
}

export type DropReason = 'bad-event' | 'stale' | 'replayed' | 'wrong-key' | 'not-for-me' | 'unbound-sender' | 'non-member' | 'malformed';

interface SignalBody {
  readonly v: 1;
  readonly type: SignalType;
  readonly session: string;
  readonly from: PeerBinding;
  readonly to: string;
  readonly at: number;
  readonly sdp: string;
  /** Membership proof (HMAC under the mesh's member key) over the fields above, base64url. */
  readonly proof: string;
}

export interface SignalChannelOptions {
  readonly relay: Relay;
  readonly identity: MeshIdentity;
  /** The mesh's keys: a private mesh's, or an open mesh's membership keys. */
  readonly mesh: PrivateMesh;
  readonly onSignal: (signal: Signal) => void;
  readonly log?: (line: string) => void;
  /** Milliseconds; injectable for tests. */
  readonly now?: () => number;
}

/** The 32 bytes the membership proof is over: everything the signal says, so none of it can be swapped. */
async function signalDigest(meshId: string, b: Omit<SignalBody, 'proof'>): Promise<Uint8Array> {
  const text = `mesh-llm-web/signal/v1\n${meshId}\n${b.type}\n${b.session}\n${b.from.peerId}\n${b.to}\n${b.at}\n${b.sdp}`;
  return new Uint8Array(await crypto.subtle.digest('SHA-256', utf8(text)));
}

function isBody(value: unknown): value is SignalBody {
  const b = value as SignalBody;
  return (
    typeof b === 'object' &&
    b !== null &&
    b.v === 1 &&
    (b.type === 'offer' || b.type === 'answer' || b.type === 'ring') &&
    typeof b.session === 'string' &&
    /^[0-9a-f]{32}$/.test(b.session) &&
    typeof b.to === 'string' &&
    typeof b.at === 'number' &&
    typeof b.sdp === 'string' &&
    b.sdp.length <= MAX_SDP_CHARS &&
    typeof b.proof === 'string' &&
    typeof b.from === 'object' &&
    b.from !== null &&
    typeof b.from.peerId === 'string' &&
    typeof b.from.libp2pKey === 'string' &&
    typeof b.from.binding === 'string'
  );
}

export class SignalChannel {
  private readonly o: SignalChannelOptions;
  private readonly seen = new Map<string, number>();
  private readonly drops = new Map<DropReason, number>();
  private binding: Promise<PeerBinding> | undefined;
  private sub: { close(): void } | undefined;

  constructor(options: SignalChannelOptions) {
    this.o = options;
  }

  get peerId(): string {
    return this.o.identity.peerId;
  }

  start(): void {
    const since = Math.floor((this.now() - SIGNAL_MAX_AGE_MS) / 1000);
    this.sub = this.o.relay.subscribe([{ kinds: [SIGNAL_KIND], '#p': [this.o.identity.nostrPubkey], since }], {
      onevent: (event) => void this.receive(event).catch(() => {}), // a bad signal is dropped, as one never received
    });
  }

  stop(): void {
    this.sub?.close();
    this.sub = undefined;
  }

  /** Signals dropped so far, by reason (the dashboard and the forged-signal tests read it). */
  dropped(): Partial<Record<DropReason, number>> {
    return Object.fromEntries(this.drops);
  }

  static newSession(): string {
    return toHex(randomBytes(16));
  }

  async send(to: { peerId: string; nostrPubkey: string }, type: SignalType, session: string, sdp: string): Promise<void> {
    const { identity, mesh } = this.o;
    this.binding ??= signBinding(identity);
    const unsigned = { v: 1 as const, type, session, from: await this.binding, to: to.peerId, at: this.now(), sdp };
    const proof = await proveMembership(mesh, {
      proverPeerId: identity.peerId,
      verifierPeerId: to.peerId,
      challenge: await signalDigest(mesh.meshId, unsigned),
    });
    const body: SignalBody = { ...unsigned, proof: toBase64Url(proof) };
    const content = await encryptContent(mesh.announceKey, mesh.meshId, identity.nostrPubkey, JSON.stringify(body));
    const event = finalizeEvent(
      { kind: SIGNAL_KIND, created_at: Math.floor(this.now() / 1000), tags: [['p', to.nostrPubkey]], content },
      identity.nostrSecretKey,
    );
    await this.o.relay.publish(event);
  }

  /** Checks one event from the relay; passes it on or counts why not. Never throws. */
  async receive(event: Event): Promise<void> {
    const verdict = await this.check(event).catch((): DropReason => 'malformed');
    if (typeof verdict === 'string') {
      this.drops.set(verdict, (this.drops.get(verdict) ?? 0) + 1);
      this.o.log?.(`mesh: dropped a WebRTC signal (${verdict})`);
      return;
    }
    this.o.onSignal(verdict);
  }

  private async check(event: Event): Promise<Signal | DropReason> {
    const now = this.now();
    if (typeof event !== 'object' || event === null || event.kind !== SIGNAL_KIND || typeof event.content !== 'string') return 'bad-event';
    if (!verifyEventFresh(event)) return 'bad-event';
    if (!event.tags.some((t) => t[0] === 'p' && t[1] === this.o.identity.nostrPubkey)) return 'not-for-me';
    if (Math.abs(now - event.created_at * 1000) > SIGNAL_MAX_AGE_MS) return 'stale';
    if (this.seen.has(event.id)) return 'replayed';
    this.remember(event.id, now);
    const { mesh } = this.o;
    const plain = await decryptContent(mesh.announceKey, mesh.meshId, event.pubkey, event.content);
    if (plain === undefined) return 'wrong-key';
    let body: unknown;
    try {
      body = JSON.parse(plain);
    } catch {
      return 'malformed';
    }
    if (!isBody(body)) return 'malformed';
    if (body.to !== this.o.identity.peerId) return 'not-for-me';
    if (Math.abs(now - body.at) > SIGNAL_MAX_AGE_MS) return 'stale';
    // The same handshake message again under a new event (re-signed by its author): a replay too.
    const key = `${body.from.peerId}/${body.session}/${body.type}`;
    if (this.seen.has(key)) return 'replayed';
    if (!(await verifyBinding(event.pubkey, body.from)).ok) return 'unbound-sender';
    const proof = fromBase64Url(body.proof);
    const { proof: _, ...unsigned } = body;
    const context = { proverPeerId: body.from.peerId, verifierPeerId: this.o.identity.peerId, challenge: await signalDigest(mesh.meshId, unsigned) };
    if (!proof || !(await verifyMembership(mesh, context, proof))) return 'non-member';
    this.remember(key, now);
    return { type: body.type, session: body.session, fromPeerId: body.from.peerId, fromNostrPubkey: event.pubkey, sdp: body.sdp };
  }

  private remember(key: string, now: number): void {
    this.seen.set(key, now);
    if (this.seen.size <= MAX_REMEMBERED) return;
    for (const [k, at] of this.seen) if (now - at > SIGNAL_MAX_AGE_MS || this.seen.size > MAX_REMEMBERED) this.seen.delete(k);
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }
}
