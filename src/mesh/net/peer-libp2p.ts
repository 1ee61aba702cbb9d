// The libp2p node of a mesh peer: WebSockets (to the companion), WebTransport (to native nodes'
// bridges, where the page has WebTransport), circuit relay v2 (to reach tabs through the companion
// and set up WebRTC), WebRTC between tabs (no STUN: local meshes and tests run offline), Noise,
// yamux, identify, ping and gossipsub. One factory for the page and for Node
// peers; Node has no RTCPeerConnection, so WebRTC is optional, and only Node passes QUIC in (a native
// module the page's bundle must not import: src/companion/native-transports.ts).
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { identify } from '@libp2p/identify';
import type { Address, ConnectionGater, Transport } from '@libp2p/interface';
import { circuitRelayAddressesLast, loopbackAddressLast, publicAddressesFirst, reliableTransportsFirst } from '@libp2p/utils';
import { ping } from '@libp2p/ping';
import { webRTC } from '@libp2p/webrtc';
import { webSockets } from '@libp2p/websockets';
import { webTransport } from '@libp2p/webtransport';
import { createLibp2p } from 'libp2p';
import type { MeshIdentity } from '../identity.ts';
import { gossipService } from './gossip-service.ts';
import { linkType } from './link-type.ts';
import type { MeshLibp2p } from './mesh-node.ts';
import { nostrWebRtc, type NostrWebRtc } from './nostr-webrtc.ts';

/** A peer's node: the mesh's services plus WebRTC signalled over Nostr (absent where no RTCPeerConnection exists). */
export type PeerLibp2p = MeshLibp2p & { readonly services: { readonly rtc?: NostrWebRtc } };

export interface PeerLibp2pOptions {
  /** Off in Node (no RTCPeerConnection); on in the page. */
  readonly webrtc: boolean;
  /** ICE servers; empty by default, since a local mesh needs none and tests have no internet. */
  readonly iceServers?: RTCIceServer[];
  /**
   * Extra listen addresses, for Node peers (tests, the mesh bench): a WebSockets listener such as
   * /ip4/127.0.0.1/tcp/0/ws gives them direct links to each other, which chained stages forward on.
   */
  readonly listen?: readonly string[];
  /** The addresses other peers are told to dial instead of the listen addresses (the spec bench's delaying forwarders). */
  readonly announce?: readonly string[];
  /** Node tests: an RTCPeerConnection (node-datachannel's) for WebRTC signalled over Nostr; the page uses its own. */
  readonly peerConnection?: typeof RTCPeerConnection;
  /** More transports (Node peers: QUIC), tried before WebSockets where a peer offers both. */
  readonly transports?: readonly PeerTransport[];
}

/** A libp2p transport factory as `createLibp2p` takes it (what `quic()` returns). */
// biome-ignore lint/suspicious/noExplicitAny: each transport declares the components it needs; libp2p passes them all.
export type PeerTransport = (components: any) => Transport;

/**
 * libp2p's default order (public before private, loopback and relayed last, then TCP, WebSockets,
 * WebRTC, WebTransport), except that a QUIC address (raw, or as WebTransport) goes before any other
 * of the same standing: one round trip to set up where WebSockets takes four (TCP, HTTP upgrade,
 * Noise, yamux), and no head-of-line blocking between streams. An address this node has no
 * transport for was already dropped by the dialler: the page never tries raw QUIC, Node peers never
 * try WebTransport, and a page without WebTransport (not a secure context) takes WebSockets.
 */
export function quicFirst(a: Address, b: Address): -1 | 0 | 1 {
  const quic = (x: Address) => ['quic', 'webtransport'].includes(linkType(x.multiaddr.toString()));
  return (
    loopbackAddressLast(a.multiaddr, b.multiaddr) ||
    publicAddressesFirst(a.multiaddr, b.multiaddr) ||
    circuitRelayAddressesLast(a.multiaddr, b.multiaddr) ||
    (quic(a) === quic(b) ? 0 : quic(a) ? -1 : 1) ||
    (a.isCertified === b.isCertified ? 0 : a.isCertified ? -1 : 1) ||
    reliableTransportsFirst(a.multiaddr, b.multiaddr)
  );
}

/**
 * The browser default gater refuses loopback, private addresses and plain ws://, which is exactly
 * where a local companion lives; membership (not addresses) decides who may stay connected.
 */
export function openMeshGater(): ConnectionGater {
  return { denyDialMultiaddr: () => false };
}

export async function createPeerLibp2p(identity: MeshIdentity, options: PeerLibp2pOptions): Promise<PeerLibp2p> {
  const rtcConfiguration = { iceServers: options.iceServers ?? [] };
  const rtc =
    options.webrtc || options.peerConnection
      ? { rtc: nostrWebRtc({ rtcConfiguration, ...(options.peerConnection ? { peerConnection: options.peerConnection } : {}) }) }
      : {};
  const node = await createLibp2p({
    privateKey: identity.libp2pKey,
    // '/p2p-circuit': take a reservation on a relay we connect to (the companion); '/webrtc': accept
    // WebRTC offers signalled over such relayed connections.
    addresses: {
      listen: [...(options.webrtc ? ['/p2p-circuit', '/webrtc'] : ['/p2p-circuit']), ...(options.listen ?? [])],
      ...(options.announce ? { announce: [...options.announce] } : {}),
    },
    transports: [
      ...(options.transports ?? []),
      webSockets(),
      // Dials only where globalThis.WebTransport exists (a page in a secure context): Node peers skip it.
      webTransport(),
      circuitRelayTransport({ reservationCompletionTimeout: 10_000 }),
      ...(options.webrtc ? [webRTC({ rtcConfiguration })] : []),
    ],
    connectionManager: { addressSorter: quicFirst },
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: openMeshGater(),
    services: { identify: identify(), ping: ping(), pubsub: gossipService(), ...rtc },
  });
  return node as unknown as PeerLibp2p;
}
