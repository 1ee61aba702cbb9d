// The companion's libp2p node: a WebSockets listener browser tabs can dial, a QUIC listener native
// peers dial (native-transports.ts), a WebTransport bridge tabs prefer (webtransport-listener.ts), and a circuit relay v2 server so tabs can reserve a slot, reach
// each other through it, then upgrade to direct WebRTC.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayServer } from '@libp2p/circuit-relay-v2';
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { identify } from '@libp2p/identify';
import type { Identify } from '@libp2p/identify';
import type { ConnectionGater, Libp2p, PrivateKey } from '@libp2p/interface';
import { ping } from '@libp2p/ping';
import type { Ping } from '@libp2p/ping';
import { webSockets } from '@libp2p/websockets';
import type { GossipSub } from '@libp2p/gossipsub';
import { createLibp2p } from 'libp2p';
import { gossipService } from '../mesh/net/gossip-service.ts';
import { MeshError } from '../protocol/errors.ts';
import { multiaddrHost } from './lan-address.ts';
import { quicListenAddress, quicTransport } from './native-transports.ts';
import { webTransportListenAddress, webTransportListener } from './webtransport-listener.ts';

/** Beside `libp2p-key`: the WebTransport certificates (webtransport-certificates.ts). */
export const WEBTRANSPORT_STATE_FILE = 'webtransport-certificates.json';

export type CompanionLibp2p = Libp2p<{ identify: Identify; ping: Ping; relay: CircuitRelayService; pubsub: GossipSub }>;

export interface Libp2pNodeOptions {
  host: string;
  port: number;
  /** Folder holding `libp2p-key` so the peer id is stable across restarts; null = a fresh key each start. */
  keyDir: string | null;
  /** The key to use (the companion's mesh identity, so its peer id is bound to its Nostr key); wins over keyDir. */
  privateKey?: PrivateKey;
  /** Relay reservations held at once (each browser tab takes one). */
  maxReservations?: number;
  /**
   * Listen for secure WebSockets (/tls/ws, i.e. wss://) with this certificate: a page served over
   * HTTPS may not open ws:// to another host (mixed content), so `--https` needs this to join.
   */
  tls?: { cert: string; key: string };
  /** Also listen for QUIC on this UDP port (0 = any free one): native peers' links. Absent: WebSockets only. */
  quicPort?: number;
  /** Also serve WebTransport to tabs on this UDP port (0 = any free one). Absent: no WebTransport. */
  webTransportPort?: number;
  /** Names its WebTransport certificate carries besides loopback (the LAN and public host). */
  hosts?: readonly string[];
}

/**
 * Local meshes live on loopback and private LANs, which libp2p's browser defaults refuse to dial;
 * the companion allows every address, and says so here rather than relying on the Node default.
 */
export function localMeshGater(): ConnectionGater {
  return { denyDialMultiaddr: () => false };
}

export async function startLibp2pNode(options: Libp2pNodeOptions): Promise<CompanionLibp2p> {
  const privateKey = options.privateKey ?? (options.keyDir === null ? await generateKeyPair('Ed25519') : await loadOrCreateKey(options.keyDir));
  // The WebSockets listener needs an IP address; a host name (localhost) is resolved once here.
  const ip = isIP(options.host) !== 0 ? options.host : (await lookup(options.host)).address;
  const host = isIP(ip) === 6 ? `/ip6/${ip}` : `/ip4/${ip}`;
  const quic = options.quicPort === undefined ? [] : [quicListenAddress(ip, options.quicPort)];
  const webTransport = options.webTransportPort === undefined ? [] : [webTransportListenAddress(ip, options.webTransportPort)];
  const node = await createLibp2p({
    privateKey,
    addresses: { listen: [`${host}/tcp/${options.port}/${options.tls ? 'tls/ws' : 'ws'}`, ...quic, ...webTransport] },
    transports: [
      webSockets(options.tls ? { https: { cert: options.tls.cert, key: options.tls.key } } : {}),
      ...(quic.length > 0 ? [quicTransport()] : []),
      ...(webTransport.length > 0
        ? [
            webTransportListener({
              hosts: [options.host, ...(options.hosts ?? [])],
              // Kept with the key: a restart serves the certificate hashes its invites carry.
              ...(options.keyDir !== null ? { stateFile: join(options.keyDir, WEBTRANSPORT_STATE_FILE) } : {}),
            }),
          ]
        : []),
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: localMeshGater(),
    services: {
      identify: identify(),
      ping: ping(),
      // The mesh's gossip (peer state, plans): the companion is a member and the hub tabs meet at first.
      pubsub: gossipService(),
      relay: circuitRelayServer({
        reservations: {
          maxReservations: options.maxReservations ?? 128,
          // Relayed links only carry the WebRTC upgrade; keep libp2p's limits (2 min / 128 KiB).
          applyDefaultLimit: true,
        },
      }),
    },
  });
  return node;
}

/**
 * The full dialable address of the WebSockets listener, e.g. /ip4/127.0.0.1/tcp/9090/ws/p2p/12D3…
 * (…/tcp/9090/tls/ws/p2p/… when it serves wss), naming `host` (a URL host, see lan-address.ts) when
 * given. Without one, a wildcard bind's loopback address: the one that works from this machine.
 */
export function webSocketAddress(node: Libp2p, host?: string): string {
  const addresses = node
    .getMultiaddrs()
    .map(String)
    .filter((a) => a.includes('/ws/'));
  const address = addresses.find((a) => a.startsWith('/ip4/127.') || a.startsWith('/ip6/::1/')) ?? addresses[0];
  if (!address) throw new MeshError('libp2p_not_listening', 'the libp2p node has no WebSockets address; is the port free?');
  return host === undefined ? address : address.replace(/^\/(ip4|ip6|dns|dns4|dns6)\/[^/]+/, multiaddrHost(host));
}

async function loadOrCreateKey(dir: string): Promise<PrivateKey> {
  const path = join(dir, 'libp2p-key');
  try {
    return privateKeyFromProtobuf(await readFile(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new MeshError(
        'libp2p_bad_key',
        `cannot read the companion's libp2p key at ${path} (${(error as Error).message}); delete the file to make a new peer id`,
        { cause: error },
      );
    }
  }
  const key = await generateKeyPair('Ed25519');
  await mkdir(dir, { recursive: true });
  // Write then rename, so a crash never leaves half a key behind.
  await writeFile(`${path}.tmp`, privateKeyToProtobuf(key), { mode: 0o600 });
  await rename(`${path}.tmp`, path);
  return key;
}
