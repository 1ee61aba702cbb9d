// What kind of link a libp2p connection is, read from its remote multiaddr: the dashboard and tests
// show it, and the pipeline prefers direct links (relayed ones are capped at 2 min / 128 KiB).

/** 'quic': raw QUIC between native nodes (@chainsafe/libp2p-quic); a browser speaks QUIC only as WebTransport. */
export type LinkType = 'webrtc' | 'relay' | 'websocket' | 'webtransport' | 'quic' | 'other';

export function linkType(remoteAddr: string): LinkType {
  const parts = remoteAddr.split('/');
  // A WebRTC link set up through a relay still names the relay before /webrtc: the media path is direct.
  if (parts.includes('webrtc') || parts.includes('webrtc-direct')) return 'webrtc';
  if (parts.includes('p2p-circuit')) return 'relay';
  if (parts.includes('webtransport')) return 'webtransport';
  if (parts.includes('quic-v1')) return 'quic';
  if (parts.includes('ws') || parts.includes('wss') || parts.includes('tls')) return 'websocket';
  return 'other';
}
