// QUIC for native nodes (the companion and headless peers), raw between them and as WebTransport for
// tabs (webtransport-listener.ts): @chainsafe/libp2p-quic and @matrixai/quic are native modules, so only Node code imports this file; the page's libp2p (src/mesh/net/peer-libp2p.ts) takes
// transports from its caller and never names it, which keeps it out of the browser bundle.
import { quic } from '@chainsafe/libp2p-quic';
import type { Libp2p } from '@libp2p/interface';
import type { PeerTransport } from '../mesh/net/peer-libp2p.ts';
import { linkType } from '../mesh/net/link-type.ts';
import { MeshError } from '../protocol/errors.ts';
import { multiaddrHost } from './lan-address.ts';

export function quicTransport(): PeerTransport {
  return quic();
}

/** The listen address for QUIC on `ip` (an IP address, not a name) and a UDP port; 0 = any free port. */
export function quicListenAddress(ip: string, port: number): string {
  return `${ip.includes(':') ? `/ip6/${ip}` : `/ip4/${ip}`}/udp/${port}/quic-v1`;
}

/**
 * The full dialable QUIC address, e.g. /ip4/127.0.0.1/udp/9091/quic-v1/p2p/12D3…, naming `host` (a
 * URL host, see lan-address.ts) when given; undefined when the node listens on no QUIC port. As for
 * WebSockets (libp2p-node.ts webSocketAddress), a wildcard bind gives its loopback address.
 */
export function quicAddress(node: Libp2p, host?: string): string | undefined {
  const addresses = node
    .getMultiaddrs()
    .map(String)
    .filter((a) => linkType(a) === 'quic');
  const address = addresses.find((a) => a.startsWith('/ip4/127.') || a.startsWith('/ip6/::1/')) ?? addresses[0];
  if (address === undefined || host === undefined) return address;
  return address.replace(/^\/(ip4|ip6|dns|dns4|dns6)\/[^/]+/, multiaddrHost(host));
}

/**
 * The full WebTransport address, e.g. /ip4/127.0.0.1/udp/9092/quic-v1/webtransport/certhash/…/certhash/…/p2p/12D3…,
 * naming `host` when given; undefined when the node serves no WebTransport. It changes when the certificate does.
 */
export function webTransportAddress(node: Libp2p, host?: string): string | undefined {
  const addresses = node
    .getMultiaddrs()
    .map(String)
    .filter((a) => linkType(a) === 'webtransport');
  const address = addresses.find((a) => a.startsWith('/ip4/127.') || a.startsWith('/ip6/::1/')) ?? addresses[0];
  if (address === undefined || host === undefined) return address;
  return address.replace(/^\/(ip4|ip6|dns|dns4|dns6)\/[^/]+/, multiaddrHost(host));
}

/**
 * The WebTransport listener's UDP port was taken (its own error names the flag that moves it); libp2p
 * reports a failed listen in one message, so that message is read as quicPortError reads its own.
 */
export function webTransportPortError(error: unknown): MeshError | undefined {
  const message = String((error as Error)?.message ?? '');
  const own = /WebTransport: UDP port \d+ is already in use[^\n]*/.exec(message);
  return own ? new MeshError('port_in_use', own[0], { cause: error }) : undefined;
}

/** libp2p names a listen address it could not take in one message; a busy UDP port gets the flag that moves it. */
export function quicPortError(error: unknown, port: number): MeshError | undefined {
  const message = String((error as Error)?.message ?? '');
  if (!/quic-v1: .*(Address already in use|EADDRINUSE)/.test(message)) return undefined;
  return new MeshError(
    'port_in_use',
    `libp2p QUIC: UDP port ${port} is already in use (another npm start, or a native peer?); stop it or pick another port with --quic-port`,
    { cause: error },
  );
}
