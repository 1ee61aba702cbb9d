// Dials an invite's bootstrap addresses one peer at a time: a head offering WebSockets and QUIC is
// one dial with both addresses, so libp2p drops what this node cannot dial (QUIC in a page) and
// tries the rest in its address order (peer-libp2p.ts quicFirst), instead of racing two links.
import type { Libp2p } from '@libp2p/interface';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';

/** Groups addresses by the peer id they end in (an address without one is a group of its own), in order. */
export function bootstrapGroups(addresses: readonly string[]): string[][] {
  const groups = new Map<string, string[]>();
  addresses.forEach((address, i) => {
    const key = address.split('/p2p/')[1] ?? `#${i}`;
    groups.set(key, [...(groups.get(key) ?? []), address]);
  });
  return [...groups.values()];
}

/** Dials every group at once; a failure is logged, not thrown (membership and discovery go on without it). */
export async function dialBootstrap(libp2p: Pick<Libp2p, 'dial'>, addresses: readonly string[], log?: (line: string) => void): Promise<void> {
  await Promise.all(
    bootstrapGroups(addresses).map((group) => {
      const targets: Multiaddr[] = group.map((a) => multiaddr(a));
      return libp2p
        .dial(targets.length === 1 ? targets[0] : targets)
        .catch((e: unknown) => log?.(`mesh: bootstrap ${group.join(' or ')} failed: ${explainDialError(group, e)}`));
    }),
  );
}

/**
 * A failed dial's message. A browser says only "Opening handshake failed" when a WebTransport
 * server's certificate is not one the address names (an invite older than the certificate's
 * rotation) or its UDP port is closed, so where a WebTransport address was tried, say what to do.
 */
export function explainDialError(addresses: readonly string[], error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const webTransport = addresses.filter((a) => a.includes('/webtransport/'));
  if (webTransport.length === 0) return message;
  return `${message} (WebTransport: the node's certificate is not one the address names, as in an invite older than 6 days, or its UDP port is closed: ask the mesh's owner for a new invite)`;
}
