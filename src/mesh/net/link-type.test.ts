import { describe, expect, it } from 'vitest';
import { linkType } from './link-type.ts';

const relay = '/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWRelayRelayRelayRelayRelayRelayRelayRelayRe';
const peer = '12D3KooWPeerPeerPeerPeerPeerPeerPeerPeerPeerPeerPe';

describe('linkType', () => {
  it('tells WebSockets, QUIC, relayed and WebRTC links apart', () => {
    expect(linkType(relay)).toBe('websocket');
    expect(linkType(`${relay}/p2p-circuit/p2p/${peer}`)).toBe('relay');
    expect(linkType(`${relay}/p2p-circuit/webrtc/p2p/${peer}`)).toBe('webrtc');
    expect(linkType(`/ip4/198.18.0.2/udp/4001/webrtc-direct/certhash/uEiA/p2p/${peer}`)).toBe('webrtc');
    expect(linkType('/ip4/127.0.0.1/udp/4433/quic-v1/webtransport')).toBe('webtransport');
    expect(linkType(`/ip4/127.0.0.1/udp/9091/quic-v1/p2p/${peer}`)).toBe('quic');
    expect(linkType(`/ip6/::1/udp/9091/quic-v1`)).toBe('quic');
    expect(linkType('/ip4/127.0.0.1/tcp/4001')).toBe('other');
  });
});
