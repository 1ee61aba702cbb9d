// How a peer links to the members it reads on the mesh's relay. Where a member announces a
// WebSockets or relayed address (a mesh with a companion), dial it, then upgrade a relayed link to
// WebRTC signalled over that link (@libp2p/webrtc). Where it announces nothing dialable (a mesh of
// tabs headed by a tab), offer WebRTC signalled over Nostr (nostr-webrtc.ts). Either way the lower
// peer id offers, so two tabs do not both try; a failed offer is retried a few times, spaced out,
// and a Nostr-only link that drops is offered again while its peer still announces itself. The
// higher id rings the lower one for a link (a tab that came back: the other side may still hold its
// dead link, which ICE takes seconds to notice); a new Nostr-signalled link replaces an older one.
import { multiaddr } from '@multiformats/multiaddr';
import type { ValidAnnouncement } from '../announce.ts';
import { linkType } from './link-type.ts';
import type { PeerLibp2p } from './peer-libp2p.ts';
import type { Connection } from '@libp2p/interface';

/** A link made by nostr-webrtc.ts (its remote address is exactly /webrtc/p2p/<id>; @libp2p/webrtc's go through a circuit). */
const isNostrLink = (c: Connection) => c.remoteAddr.toString().startsWith('/webrtc/p2p/');

/** How many times a peer offers WebRTC to one member before living with what it has. */
const WEBRTC_OFFERS = 4;
/** Wait before offering again to a member whose only (Nostr-signalled) link dropped. */
const RELINK_DELAY_MS = 1000;
/** A higher peer id rings a member for a link at most this often, and this many times while unlinked. */
const RING_EVERY_MS = 2000;
const RINGS = 4;
/** A ring is not answered over a link younger than this: it crossed the link's set-up, it is not about a dead one. */
const FRESH_LINK_MS = 3000;

export interface PeerLinksOptions {
  readonly libp2p: PeerLibp2p;
  /** WebRTC at all (off in Node peers without RTCPeerConnection). */
  readonly webrtc: boolean;
  readonly stopped: () => boolean;
  readonly log?: (line: string) => void;
}

export class PeerLinks {
  private readonly o: PeerLinksOptions;
  /** Offers made per peer (reset when the peer disconnects, so one that comes back is offered afresh). */
  private readonly attempts = new Map<string, number>();
  /** The latest announcement of each peer reachable only over Nostr-signalled WebRTC: what a relink offers to. */
  private readonly nostrOnly = new Map<string, ValidAnnouncement>();
  /** Rings sent per peer while unlinked, and when the last went. */
  private readonly rings = new Map<string, { count: number; at: number }>();
  /** Offers in flight, by peer: a ring from that peer abandons its offer (see onRing). */
  private readonly inflight = new Map<string, AbortController>();

  constructor(options: PeerLinksOptions) {
    this.o = options;
    const { libp2p } = options;
    libp2p.addEventListener('peer:disconnect', (event) => this.onDisconnect(event.detail.toString()));
    libp2p.addEventListener('connection:open', (event) => this.replaceStale(event.detail));
    libp2p.services.rtc?.onRing((peer) => this.onRing(peer.peerId));
  }

  /**
   * A new Nostr-signalled link to a peer that still has an older one: the peer asked for it (it
   * offered or rang), so it has no link to us, and the old one is a dead link of a closed tab that
   * ICE has not noticed yet. Closing it now lets the mesh see the peer's fresh start at once.
   */
  private replaceStale(fresh: Connection): void {
    if (!isNostrLink(fresh)) return;
    this.rings.delete(fresh.remotePeer.toString());
    for (const c of this.o.libp2p.getConnections(fresh.remotePeer))
      if (c !== fresh && isNostrLink(c) && c.timeline.open < fresh.timeline.open) void c.close().catch(() => c.abort(new Error('replaced by a new link')));
  }

  /**
   * A member (higher peer id) says it has no link to us: offer one, whatever (older) link we think we
   * hold. An offer still waiting for its answer is abandoned and made again: the ringer may have come
   * back after it was sent (a reload), and signals are not stored, so it never saw it and would
   * leave us waiting out the whole answer timeout. A second link that results is closed as stale.
   */
  private onRing(peerId: string): void {
    const a = this.nostrOnly.get(peerId);
    if (!a || this.self > peerId || this.o.stopped()) return;
    const waiting = this.inflight.get(peerId);
    if (waiting) waiting.abort(new Error(`${peerId} asked for a link again: it did not get this offer`));
    const fresh = this.o.libp2p.getConnections().some((c) => c.remotePeer.toString() === peerId && Date.now() - c.timeline.open < FRESH_LINK_MS);
    if (fresh && !waiting) return;
    this.attempts.delete(peerId);
    void this.offer(peerId, () => this.offerOverNostr(a)).catch(this.offerFailed(peerId));
  }

  /** As the higher peer id (which never offers), ask the member for a link, spaced out. */
  private ring(a: ValidAnnouncement): void {
    const peerId = a.body.peerId;
    const rtc = this.o.libp2p.services.rtc;
    const last = this.rings.get(peerId) ?? { count: 0, at: 0 };
    if (!rtc || this.linked(peerId) || last.count >= RINGS || Date.now() - last.at < RING_EVERY_MS || this.o.stopped()) return;
    this.rings.set(peerId, { count: last.count + 1, at: Date.now() });
    rtc.ring({ peerId, nostrPubkey: a.nostrPubkey }).catch((e: unknown) => this.o.log?.(`mesh: asking ${peerId} for a link failed: ${(e as Error).message}`));
    // No link within the wait (the ring or its offer lost): ring again.
    setTimeout(() => this.ring(a), RING_EVERY_MS + 100);
  }

  private get self(): string {
    return this.o.libp2p.peerId.toString();
  }

  /** A valid announcement of a member arrived: link to it if not linked yet. */
  announced(a: ValidAnnouncement): void {
    const { libp2p } = this.o;
    const peerId = a.body.peerId;
    if (peerId === this.self) return;
    const addrs = a.body.multiaddrs;
    // QUIC (native peers) and WebSockets: dialled together below, so libp2p keeps what this node can dial.
    const direct = addrs.filter((s) => linkType(s) === 'websocket' || linkType(s) === 'quic');
    const relayed = addrs.filter((s) => linkType(s) === 'relay');
    const webrtc = addrs.filter((s) => linkType(s) === 'webrtc');
    const overNostr = direct.length === 0 && relayed.length === 0 && this.o.webrtc && libp2p.services.rtc !== undefined;
    if (overNostr) this.nostrOnly.set(peerId, a);
    else this.nostrOnly.delete(peerId);
    void (async () => {
      if (!this.linked(peerId) && !((await this.dialable(direct)) && (await this.dial(direct))))
        for (const address of relayed) if (await this.dial([address])) break;
      if (!this.o.webrtc) return;
      if (this.self > peerId) {
        // The lower id offers; a tab that came back asks it to, since it may still hold our old link.
        if (overNostr && !this.linked(peerId)) this.ring(a);
        return;
      }
      if (this.attempts.has(peerId)) return;
      if (overNostr) {
        if (!this.linked(peerId)) await this.offer(peerId, () => this.offerOverNostr(a));
      } else if (webrtc.length > 0) {
        await this.offer(peerId, async () => {
          for (const address of webrtc) if (await this.dial([address])) return true;
          return false;
        });
      }
    })().catch(this.offerFailed(peerId));
  }

  private readonly offerFailed =
    (peerId: string) =>
    (error: unknown): void =>
      this.o.log?.(`mesh: linking to ${peerId} failed: ${(error as Error).message}`);

  private linked(peerId: string): boolean {
    return this.o.libp2p.getConnections().some((c) => c.remotePeer.toString() === peerId && c.status === 'open');
  }

  /** A tab has no QUIC: a native peer's QUIC-only listener is reached through the relay instead, with no failed dial. */
  private async dialable(addresses: readonly string[]): Promise<boolean> {
    return addresses.length > 0 && (await this.o.libp2p.isDialable(addresses.map((a) => multiaddr(a))).catch(() => false));
  }

  private dial(addresses: readonly string[]): Promise<boolean> {
    return this.o.libp2p.dial(addresses.map((a) => multiaddr(a))).then(
      () => true,
      (e: unknown) => {
        this.o.log?.(`mesh: dial ${addresses.join(' or ')} failed: ${(e as Error).message}`);
        return false;
      },
    );
  }

  private async offerOverNostr(a: ValidAnnouncement): Promise<boolean> {
    const rtc = this.o.libp2p.services.rtc;
    const peerId = a.body.peerId;
    if (!rtc) return false;
    this.inflight.get(peerId)?.abort(new Error('a newer offer replaces it'));
    const controller = new AbortController();
    this.inflight.set(peerId, controller);
    try {
      await rtc.connect({ peerId, nostrPubkey: a.nostrPubkey }, controller.signal);
      return true;
    } catch (error) {
      this.o.log?.(`mesh: WebRTC over Nostr to ${peerId} failed: ${(error as Error).message}`);
      // Abandoned for a new offer (onRing): that one carries on, this one is not retried.
      return controller.signal.aborted;
    } finally {
      if (this.inflight.get(peerId) === controller) this.inflight.delete(peerId);
    }
  }

  /** An offer can fail on a busy machine (ICE or signalling timeout): try again, spaced out, a few times. */
  private async offer(peerId: string, once: () => Promise<boolean>): Promise<void> {
    const attempts = (this.attempts.get(peerId) ?? 0) + 1;
    this.attempts.set(peerId, attempts);
    const linked = await once();
    if (linked) return;
    if (attempts >= WEBRTC_OFFERS || this.o.stopped()) return;
    setTimeout(() => {
      if (!this.o.stopped() && !this.linked(peerId)) void this.offer(peerId, once).catch(this.offerFailed(peerId));
    }, 1500 * attempts);
  }

  private onDisconnect(peerId: string): void {
    this.attempts.delete(peerId);
    this.rings.delete(peerId);
    const a = this.nostrOnly.get(peerId);
    if (!a) return;
    setTimeout(() => {
      if (!this.o.stopped() && !this.linked(peerId) && this.nostrOnly.get(peerId) === a) this.announced(a);
    }, RELINK_DELAY_MS);
  }
}
