// The host other machines reach this companion by, for the URLs and invite it prints: a wildcard bind
// (--host 0.0.0.0) is reached through the address of the interface holding the default route, read
// from the kernel's routing table; --public-host names it outright. Nothing here sends a packet.
import { createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { displayHost } from './config.ts';

/** A bind address that listens on every interface (then the printed URLs need a reachable address). */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/**
 * The interface of the IPv4 default route in Linux's /proc/net/route (Destination and Mask 0, flag
 * RTF_UP), the lowest metric winning as it does in the kernel; undefined when there is none.
 */
export function defaultRouteInterface(routeTable: string): string | undefined {
  let best: { iface: string; metric: number } | undefined;
  for (const line of routeTable.split('\n').slice(1)) {
    const [iface, destination, , flags, , , metric, mask] = line.trim().split(/\s+/);
    if (!iface || destination !== '00000000' || mask !== '00000000') continue;
    if ((Number.parseInt(flags, 16) & 0x1) === 0) continue;
    const m = Number(metric);
    if (!best || m < best.metric) best = { iface, metric: m };
  }
  return best?.iface;
}

/** The first IPv4 address of `name` that other machines can reach (not loopback, not link-local). */
export function interfaceAddress(name: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): string | undefined {
  return interfaces[name]?.find((a) => a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.'))?.address;
}

export interface LanAddressSources {
  /** /proc/net/route's text, or null where there is none (not Linux). */
  routeTable(): Promise<string | null>;
  interfaces(): NodeJS.Dict<NetworkInterfaceInfo[]>;
  /** The local address the OS would send from to a public address, or undefined (no route). */
  routeProbe(): Promise<string | undefined>;
}

export const osSources: LanAddressSources = {
  routeTable: () => readFile('/proc/net/route', 'utf8').catch(() => null),
  interfaces: () => networkInterfaces(),
  routeProbe,
};

/**
 * This machine's address on its network: the default route's interface's IPv4 address from the
 * routing table; where the OS has no /proc/net/route (macOS), the address a UDP socket connected
 * towards a public address picks. Undefined when the machine has no default route.
 */
export async function lanAddress(sources: LanAddressSources = osSources): Promise<string | undefined> {
  const table = await sources.routeTable();
  if (table === null) return sources.routeProbe();
  const iface = defaultRouteInterface(table);
  return iface === undefined ? undefined : interfaceAddress(iface, sources.interfaces());
}

/** Connecting a UDP socket only asks the kernel for a route: no datagram is sent. */
function routeProbe(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const done = (address: string | undefined) => {
      socket.close();
      resolve(address);
    };
    socket.once('error', () => done(undefined));
    // TEST-NET-2 (RFC 5737): routed like any public address, never a real host.
    socket.connect(9, '198.51.100.1', (error?: Error) => {
      if (error) return done(undefined);
      const { address } = socket.address();
      done(address === '0.0.0.0' ? undefined : address);
    });
  });
}

/**
 * The host printed URLs name, ready for a URL (IPv6 in brackets): --public-host when given; for a
 * wildcard bind, this machine's LAN address (loopback when it has none); otherwise the bind host.
 */
export function advertisedHost(bind: string, publicHost: string, lan: string | undefined): string {
  if (publicHost) return isIP(publicHost) === 6 ? `[${publicHost}]` : publicHost;
  if (isWildcardHost(bind) && lan) return lan;
  return displayHost(bind);
}

/** The libp2p multiaddr host part for a URL host: /ip4/…, /ip6/… or /dns/… for a name. */
export function multiaddrHost(host: string): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  const family = isIP(bare);
  return family === 4 ? `/ip4/${bare}` : family === 6 ? `/ip6/${bare}` : `/dns/${bare}`;
}
