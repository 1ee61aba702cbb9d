// Direct WebRTC links between mesh peers with nothing but a Nostr relay between them: a libp2p
// service that signals over the mesh's relay (nostr-signal.ts), opens one data channel and hands it
// to the node's own upgrader, so the link is Noise-authenticated (the peer id is proven on the link,
// as on every other) and yamux-multiplexed like a WebSockets one. @libp2p/webrtc signals over a
// relayed libp2p connection instead, which needs a relay node (the companion); this needs none.
import type { ComponentLogger, Connection, Logger, Startable, Upgrader } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { MeshError } from '../../protocol/errors.ts';
import { dataChannelConnection } from './rtc-connection.ts';
import { SignalChannel, type Signal, type SignalChannelOptions } from './nostr-signal.ts';

/** How long each step of a handshake (gathering, the answer, the channel opening) may take. */
const STEP_TIMEOUT_MS = 10_000;
/** Offers answered at once: more (a flood) are dropped rather than each costing a peer connection. */
const MAX_ANSWERING = 8;

export interface NostrWebRtcInit {
  /** ICE servers: none by default (a local mesh and the tests are offline). */
  readonly rtcConfiguration?: RTCConfiguration;
  /** The page's RTCPeerConnection by default; Node tests pass node-datachannel's. */
  readonly peerConnection?: typeof RTCPeerConnection;
}

interface Components {
  readonly upgrader: Upgrader;
  readonly logger: ComponentLogger;
}

export interface NostrPeer {
  readonly peerId: string;
  readonly nostrPubkey: string;
}

function timeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new MeshError('webrtc_timeout', `${what} took over ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Non-trickle: the description is sent once, with every candidate gathered. */
function iceGathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  const done = new Promise<void>((resolve) => {
    const check = () => pc.iceGatheringState === 'complete' && resolve();
    pc.addEventListener('icegatheringstatechange', check);
    pc.addEventListener('icecandidate', (e: RTCPeerConnectionIceEvent) => e.candidate === null && resolve());
  });
  return timeout(done, STEP_TIMEOUT_MS, 'gathering ICE candidates');
}

function opened(channel: RTCDataChannel): Promise<void> {
  if (channel.readyState === 'open') return Promise.resolve();
  const open = new Promise<void>((resolve, reject) => {
    channel.addEventListener('open', () => resolve(), { once: true });
    channel.addEventListener('close', () => reject(new MeshError('webrtc_closed', 'the data channel closed before it opened')), { once: true });
  });
  return timeout(open, STEP_TIMEOUT_MS, 'opening the data channel');
}

export class NostrWebRtc implements Startable {
  private readonly components: Components;
  private readonly init: NostrWebRtcInit;
  private readonly log: Logger;
  private signals: SignalChannel | undefined;
  /** Offers this node made, by session: each waits for its answer. */
  private readonly awaiting = new Map<string, { peerId: string; resolve: (sdp: string) => void }>();
  private readonly live = new Set<RTCPeerConnection>();
  private answering = 0;
  private readonly ringListeners = new Set<(peer: NostrPeer) => void>();

  constructor(components: Components, init: NostrWebRtcInit = {}) {
    this.components = components;
    this.init = init;
    this.log = components.logger.forComponent('mesh:nostr-webrtc');
  }

  readonly [Symbol.toStringTag] = 'mesh-llm-web/nostr-webrtc';

  start(): void {
    globalThis.addEventListener?.('pagehide', this.onPageHide);
  }

  stop(): void {
    globalThis.removeEventListener?.('pagehide', this.onPageHide);
    this.detach();
    for (const pc of this.live) pc.close();
    this.live.clear();
  }

  /**
   * A closing tab hangs up its peer connections itself, at once: the browser's own teardown does not
   * tell the other side, which then notices only when ICE or libp2p's ping gives up (over 10 s).
   */
  private readonly onPageHide = (event: PageTransitionEvent): void => {
    if (event.persisted) return; // into the back/forward cache: it may come back
    for (const pc of this.live) pc.close();
  };

  /** Starts signalling on a mesh's relay (a node joins one mesh); offers from its members are answered from now on. */
  attach(options: Omit<SignalChannelOptions, 'onSignal'>): SignalChannel {
    this.detach();
    const signals = new SignalChannel({ ...options, onSignal: (s) => this.onSignal(s) });
    signals.start();
    this.signals = signals;
    return signals;
  }

  detach(): void {
    this.signals?.stop();
    this.signals = undefined;
  }

  /** Asks a member (a lower peer id: the one that offers) for a link. */
  async ring(peer: NostrPeer): Promise<void> {
    const signals = this.signals;
    if (!signals) throw new MeshError('webrtc_no_signalling', 'no Nostr relay to signal WebRTC over: join a mesh first');
    await signals.send(peer, 'ring', SignalChannel.newSession(), '');
  }

  /** Hears members asking this node for a link (peer-links.ts decides whether to offer). */
  onRing(listener: (peer: NostrPeer) => void): () => void {
    this.ringListeners.add(listener);
    return () => this.ringListeners.delete(listener);
  }

  /**
   * Opens a direct link to a member: offer over the relay, answer back, then Noise and yamux on the
   * data channel. `signal` abandons it (also while waiting for the answer).
   */
  async connect(peer: NostrPeer, signal?: AbortSignal): Promise<Connection> {
    const signals = this.signals;
    if (!signals) throw new MeshError('webrtc_no_signalling', 'no Nostr relay to signal WebRTC over: join a mesh first');
    const pc = this.peerConnection();
    try {
      const channel = pc.createDataChannel('mesh-llm-web');
      const offer = await pc.createOffer();
      // node-datachannel (the Node tests) has set its offer already; setting it twice can reset its ICE transport.
      if (!pc.localDescription) await pc.setLocalDescription(offer);
      await iceGathered(pc);
      const session = SignalChannel.newSession();
      const answer = new Promise<string>((resolve, reject) => {
        this.awaiting.set(session, { peerId: peer.peerId, resolve });
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
      // Abandoned while the offer is still being sent, or after the answer came: awaited below or not at all.
      answer.catch(() => {});
      try {
        signal?.throwIfAborted();
        await signals.send(peer, 'offer', session, this.description(pc));
        const sdp = await timeout(answer, STEP_TIMEOUT_MS, `waiting for ${peer.peerId}'s WebRTC answer`);
        await pc.setRemoteDescription({ type: 'answer', sdp });
      } finally {
        this.awaiting.delete(session);
      }
      await opened(channel);
      const maConn = dataChannelConnection({
        channel,
        peerConnection: pc,
        remoteAddr: multiaddr(`/webrtc/p2p/${peer.peerId}`),
        direction: 'outbound',
        log: this.log,
      });
      const upgrade = AbortSignal.timeout(STEP_TIMEOUT_MS);
      return await this.components.upgrader.upgradeOutbound(maConn, { signal: signal ? AbortSignal.any([signal, upgrade]) : upgrade });
    } catch (error) {
      this.drop(pc);
      throw error;
    }
  }

  private onSignal(s: Signal): void {
    if (s.type === 'ring') {
      for (const listener of this.ringListeners) listener({ peerId: s.fromPeerId, nostrPubkey: s.fromNostrPubkey });
      return;
    }
    if (s.type === 'answer') {
      const waiting = this.awaiting.get(s.session);
      // An answer to no offer of ours, or from another peer than the one offered to: ignored.
      if (waiting?.peerId === s.fromPeerId) waiting.resolve(s.sdp);
      return;
    }
    if (this.answering >= MAX_ANSWERING) {
      this.log('too many WebRTC offers at once; dropped one from %s', s.fromPeerId);
      return;
    }
    this.answering++;
    void this.answer(s)
      .catch((error: unknown) => this.log.error('answering %s failed: %e', s.fromPeerId, error))
      .finally(() => this.answering--);
  }

  private async answer(offer: Signal): Promise<void> {
    const signals = this.signals;
    if (!signals) return;
    const pc = this.peerConnection();
    try {
      const channel = new Promise<RTCDataChannel>((resolve) =>
        pc.addEventListener('datachannel', (e: RTCDataChannelEvent) => resolve(e.channel), { once: true }),
      );
      await pc.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await iceGathered(pc);
      await signals.send({ peerId: offer.fromPeerId, nostrPubkey: offer.fromNostrPubkey }, 'answer', offer.session, this.description(pc));
      const dc = await timeout(channel, STEP_TIMEOUT_MS, `waiting for ${offer.fromPeerId}'s data channel`);
      await opened(dc);
      const maConn = dataChannelConnection({
        channel: dc,
        peerConnection: pc,
        remoteAddr: multiaddr(`/webrtc/p2p/${offer.fromPeerId}`),
        direction: 'inbound',
        log: this.log,
      });
      // Noise on the inbound side checks the initiator is the peer id in remoteAddr: the one whose binding signed the offer.
      await this.components.upgrader.upgradeInbound(maConn, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) });
    } catch (error) {
      this.drop(pc);
      throw error;
    }
  }

  private peerConnection(): RTCPeerConnection {
    const PeerConnection = this.init.peerConnection ?? globalThis.RTCPeerConnection;
    if (!PeerConnection) throw new MeshError('webrtc_unsupported', 'this runtime has no RTCPeerConnection');
    const pc = new PeerConnection(this.init.rtcConfiguration ?? { iceServers: [] });
    this.live.add(pc);
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'closed' || pc.connectionState === 'failed') this.drop(pc);
    });
    return pc;
  }

  private description(pc: RTCPeerConnection): string {
    const sdp = pc.localDescription?.sdp;
    if (!sdp) throw new MeshError('webrtc_no_description', 'the peer connection has no local description');
    return sdp;
  }

  private drop(pc: RTCPeerConnection): void {
    if (!this.live.delete(pc)) return;
    pc.close();
  }
}

/** The service factory for createLibp2p's `services`. */
export function nostrWebRtc(init: NostrWebRtcInit = {}): (components: Components) => NostrWebRtc {
  return (components) => new NostrWebRtc(components, init);
}
