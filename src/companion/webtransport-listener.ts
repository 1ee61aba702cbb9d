// The WebTransport bridge: a libp2p transport that only listens, so browser tabs reach a native node
// over QUIC. Each WebTransport session becomes one libp2p connection as @libp2p/webtransport's dialer
// expects: Noise on the first bidirectional stream (the certificate hashes in its extensions), then
// one WebTransport stream per libp2p stream. Its certificate lasts 12 days and is replaced every 6 by
// the next, whose 12 days start when it goes into use; the address names both, so an invite stays good
// for 6 days at least, across restarts too where `stateFile` keeps them.
import { noise } from '@chainsafe/libp2p-noise';
import {
  type ComponentLogger,
  type CreateListenerOptions,
  type Listener,
  type ListenerEvents,
  type Logger,
  type PeerId,
  type PrivateKey,
  serviceCapabilities,
  type Transport,
  transportSymbol,
  TypedEventEmitter,
  type Upgrader,
} from '@libp2p/interface';
import { getThinWaistAddresses } from '@libp2p/utils';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { MeshError } from '../protocol/errors.ts';
import { loadCertificates, saveCertificates } from './webtransport-certificates.ts';
import { type WebTransportCertificate, webTransportCertificate } from './tls.ts';
import { HandshakeStream, SessionConnection, sessionMuxer } from './webtransport-streams.ts';
import { WebTransportServer, type WebTransportSession } from './webtransport-server.ts';

/** The path @libp2p/webtransport dials (with `?type=noise`). */
export const LIBP2P_WEBTRANSPORT_PATH = '/.well-known/libp2p-webtransport';
const ROTATE_MS = 6 * 24 * 3600_000;
/** How long a session may take to open its Noise stream and finish the handshake. */
const HANDSHAKE_MS = 10_000;

interface Components {
  readonly logger: ComponentLogger;
  readonly privateKey: PrivateKey;
  readonly peerId: PeerId;
}

export interface WebTransportListenerInit {
  /** Hosts the certificate names besides loopback (browsers check only the hash, but a name costs nothing). */
  readonly hosts?: readonly string[];
  /** Makes a certificate starting at `notBefore` (tests give short-lived or fixed ones). */
  readonly certificate?: (notBefore: number) => Promise<WebTransportCertificate>;
  /** Milliseconds between certificate changes (default 6 days). */
  readonly rotateMs?: number;
  /**
   * Where the two certificates are kept across restarts (certificates.ts), so the addresses in
   * invites already given out stay good after one. Absent: in memory only.
   */
  readonly stateFile?: string;
}

/** `/certhash/<multibase base64url of the sha2-256 multihash>`, as @libp2p/webtransport parses it. */
export function certhashComponent(hash: Uint8Array): string {
  return `/certhash/u${Buffer.from(multihash(hash)).toString('base64url')}`;
}

function multihash(hash: Uint8Array): Uint8Array {
  return Uint8Array.from([0x12, 0x20, ...hash]);
}

/** The WebTransport address for a host and port, e.g. /ip4/127.0.0.1/udp/9092/quic-v1/webtransport. */
export function webTransportListenAddress(ip: string, port: number): string {
  return `${ip.includes(':') ? `/ip6/${ip}` : `/ip4/${ip}`}/udp/${port}/quic-v1/webtransport`;
}

const LISTENABLE = /^\/ip[46]\/[^/]+\/udp\/\d+\/quic-v1\/webtransport$/;

class WebTransportListenerTransport implements Transport {
  readonly [Symbol.toStringTag] = 'mesh/webtransport-listener';
  readonly [transportSymbol] = true;
  readonly [serviceCapabilities] = ['@libp2p/transport'];
  private readonly components: Components;
  private readonly init: WebTransportListenerInit;

  constructor(components: Components, init: WebTransportListenerInit) {
    this.components = components;
    this.init = init;
  }

  async dial(): Promise<never> {
    throw new MeshError('webtransport_listen_only', 'this node serves WebTransport to browsers; it dials other nodes over QUIC or WebSockets');
  }

  createListener(options: CreateListenerOptions): Listener {
    return new WebTransportListener(this.components, this.init, options.upgrader);
  }

  listenFilter(addrs: Multiaddr[]): Multiaddr[] {
    return addrs.filter((a) => LISTENABLE.test(a.toString()));
  }

  dialFilter(): Multiaddr[] {
    return [];
  }
}

class WebTransportListener extends TypedEventEmitter<ListenerEvents> implements Listener {
  private readonly components: Components;
  private readonly init: WebTransportListenerInit;
  private readonly upgrader: Upgrader;
  private readonly log: Logger;
  private server?: WebTransportServer;
  private listenAddr?: Multiaddr;
  private port = 0;
  /** The certificate served now, and the one served next (both announced). */
  private certificates: [WebTransportCertificate, WebTransportCertificate] | undefined;
  private rotation?: ReturnType<typeof setTimeout>;

  constructor(components: Components, init: WebTransportListenerInit, upgrader: Upgrader) {
    super();
    this.components = components;
    this.init = init;
    this.upgrader = upgrader;
    this.log = components.logger.forComponent('mesh:webtransport');
  }

  private makeCertificate(notBefore: number): Promise<WebTransportCertificate> {
    return this.init.certificate ? this.init.certificate(notBefore) : webTransportCertificate(this.init.hosts ?? [], notBefore);
  }

  async listen(ma: Multiaddr): Promise<void> {
    const [, , host, , port] = ma.toString().split('/');
    const now = Date.now();
    const rotateMs = this.init.rotateMs ?? ROTATE_MS;
    const kept = this.init.stateFile ? await loadCertificates(this.init.stateFile, now, rotateMs) : undefined;
    if (kept) this.log('WebTransport certificates kept from %s', this.init.stateFile);
    // The next one's validity starts when it goes into use, so it is served its whole period.
    const certificates = kept?.certificates ?? [await this.makeCertificate(now), await this.makeCertificate(now + rotateMs)];
    this.certificates = certificates;
    if (!kept) await this.save(now);
    const server = new WebTransportServer({
      host,
      port: Number(port),
      cert: certificates[0].cert,
      key: certificates[0].key,
      acceptPath: (path) => path.split('?')[0] === LIBP2P_WEBTRANSPORT_PATH,
      onSession: (session) => this.onSession(session),
      log: (line) => this.log(line),
    });
    await server.start();
    this.server = server;
    this.listenAddr = multiaddr(webTransportListenAddress(host, server.port));
    this.port = server.port;
    this.scheduleRotation(kept ? Math.max(0, kept.rotatedAt + rotateMs - now) : rotateMs);
    this.safeDispatchEvent('listening');
  }

  /** Every rotateMs the next certificate goes into use and a new one is made after it; addresses are announced again. */
  private scheduleRotation(inMs: number): void {
    this.rotation = setTimeout(() => {
      this.rotate().catch((error: unknown) => this.log.error('WebTransport certificate rotation failed - %e', error));
    }, inMs);
    this.rotation.unref?.();
  }

  /** Public for tests: moves to the next certificate now. */
  async rotate(): Promise<void> {
    if (!this.certificates || !this.server) return;
    const now = Date.now();
    const next = await this.makeCertificate(now + (this.init.rotateMs ?? ROTATE_MS));
    this.certificates = [this.certificates[1], next];
    this.server.updateCertificate(this.certificates[0].cert, this.certificates[0].key);
    await this.save(now);
    this.scheduleRotation(this.init.rotateMs ?? ROTATE_MS);
    this.safeDispatchEvent('listening');
  }

  private async save(rotatedAt: number): Promise<void> {
    if (!this.init.stateFile || !this.certificates) return;
    await saveCertificates(this.init.stateFile, this.certificates, rotatedAt).catch((error: unknown) =>
      this.log.error('keeping the WebTransport certificates in %s failed - %e', this.init.stateFile, error),
    );
  }

  /** The multihashes of both announced certificates, as the Noise extension carries them. */
  private certhashes(): Uint8Array[] {
    return (this.certificates ?? []).map((c) => multihash(c.hash));
  }

  private onSession(session: WebTransportSession): void {
    this.upgradeSession(session).catch((error: unknown) => {
      this.log('WebTransport session from %s:%d refused - %e', session.remoteHost, session.remotePort, error);
      session.close();
    });
  }

  private async upgradeSession(session: WebTransportSession): Promise<void> {
    const signal = this.upgrader.createInboundAbortSignal(AbortSignal.timeout(HANDSHAKE_MS));
    try {
      const reader = session.incomingBidirectionalStreams.getReader();
      const first = await Promise.race([
        reader.read(),
        new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
      ]);
      reader.releaseLock();
      if (first.done) return;
      const handshake = new HandshakeStream(first.value, this.log);
      const encrypter = noise({ extensions: { webtransportCerthashes: this.certhashes() } })(this.components as never);
      const { remotePeer } = await encrypter.secureInbound(handshake, { signal, skipStreamMuxerNegotiation: true });
      await handshake.close();
      const ip = session.remoteHost.includes(':') ? `/ip6/${session.remoteHost}` : `/ip4/${session.remoteHost}`;
      const remoteAddr = multiaddr(`${ip}/udp/${session.remotePort}/quic-v1/webtransport/p2p/${remotePeer}`);
      const maConn = new SessionConnection(session, remoteAddr, this.log);
      await this.upgrader.upgradeInbound(maConn, { skipEncryption: true, skipProtection: true, remotePeer, muxerFactory: sessionMuxer(session), signal });
    } finally {
      signal.clear();
    }
  }

  getAddrs(): Multiaddr[] {
    if (!this.listenAddr || !this.certificates) return [];
    const hashes = this.certificates.map((c) => certhashComponent(c.hash)).join('');
    // A wildcard bind is announced as each interface's address, as libp2p's own listeners do.
    return getThinWaistAddresses(this.listenAddr, this.port).map((a) => multiaddr(`${a.toString()}/quic-v1/webtransport${hashes}`));
  }

  updateAnnounceAddrs(addrs: Multiaddr[]): void {
    if (!this.certificates) return;
    const hashes = this.certificates.map((c) => certhashComponent(c.hash)).join('');
    addrs.forEach((addr, i) => {
      const text = addr.toString();
      if (text.includes('/webtransport') && !text.includes('/certhash/')) addrs[i] = multiaddr(text.replace('/webtransport', `/webtransport${hashes}`));
    });
  }

  async close(): Promise<void> {
    clearTimeout(this.rotation);
    await this.server?.stop();
    this.server = undefined;
    this.safeDispatchEvent('close');
  }
}

/** The listening WebTransport transport, for a native node's libp2p (the companion and headless peers). */
export function webTransportListener(init: WebTransportListenerInit = {}): (components: Components) => Transport {
  return (components) => new WebTransportListenerTransport(components, init);
}
