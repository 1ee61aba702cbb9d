// The WebTransport bridge as a browser meets it: @libp2p/webtransport's own dialer (its browser
// binding, over a Node WebTransport client: vitest.config.ts) dials a Node libp2p node that listens
// with webTransportListener. Noise with certificate hashes, then one WebTransport stream per libp2p
// stream, both ways; a certificate hash the node does not serve is refused.
import './testing/webtransport-global.ts';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import type { Libp2p } from '@libp2p/interface';
import { ping, type Ping } from '@libp2p/ping';
import { webTransport } from '@libp2p/webtransport';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainDialError } from '../mesh/net/bootstrap-dial.ts';
import { createSocket } from 'node:dgram';
import { linkType } from '../mesh/net/link-type.ts';
import { startLibp2pNode } from './libp2p-node.ts';
import { webTransportPortError } from './native-transports.ts';
import { connectRequest, H3Client } from './testing/webtransport-client.ts';
import { webTransportListenAddress, webTransportListener } from './webtransport-listener.ts';

type Node = Libp2p<{ ping: Ping }>;
let server: Node;
let tab: Node;
const gater = { denyDialMultiaddr: () => false };

beforeAll(async () => {
  server = (await createLibp2p({
    addresses: { listen: [webTransportListenAddress('127.0.0.1', 0)] },
    transports: [webTransportListener({ rotateMs: 1_500 })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: gater,
    services: { identify: identify(), ping: ping() },
  })) as Node;
  tab = (await createLibp2p({
    transports: [webTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: gater,
    services: { identify: identify(), ping: ping() },
  })) as Node;
});

afterAll(async () => {
  await tab?.stop();
  await server?.stop();
});

const address = () =>
  server
    .getMultiaddrs()
    .map(String)
    .find((a) => a.includes('/webtransport/')) ?? '';

describe('WebTransport bridge (libp2p)', () => {
  it('announces /quic-v1/webtransport with two certificate hashes and its peer id', () => {
    expect(address()).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/udp/[1-9]\\d*/quic-v1/webtransport/certhash/u[\\w-]+/certhash/u[\\w-]+/p2p/${server.peerId}$`));
  });

  it('takes a tab dialling with @libp2p/webtransport: Noise on the first stream, then streams both ways', async () => {
    const connection = await tab.dial(multiaddr(address()));
    expect(connection.remotePeer.equals(server.peerId)).toBe(true);
    expect(linkType(connection.remoteAddr.toString())).toBe('webtransport');
    expect(await tab.services.ping.ping(server.peerId)).toBeGreaterThanOrEqual(0);
    // The server opens a stream towards the tab on the same session.
    expect(await server.services.ping.ping(tab.peerId)).toBeGreaterThanOrEqual(0);
    expect(server.getConnections(tab.peerId).map((c) => linkType(c.remoteAddr.toString()))).toEqual(['webtransport']);
    await tab.hangUp(server.peerId);
  });

  it('refuses an unknown certificate hash, and says what to do', async () => {
    const forged = address().replace(
      /\/certhash\/u[\w-]+\/certhash\/u[\w-]+/,
      `/certhash/u${Buffer.from([0x12, 0x20, ...new Uint8Array(32).fill(7)]).toString('base64url')}`,
    );
    const error = await tab.dial(multiaddr(forged)).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeDefined();
    expect(explainDialError([forged], error)).toMatch(/certificate .*not one the address names.*new invite/);
  });

  it('rotates its certificate: the next hash announced becomes the one served', async () => {
    const before = address().match(/certhash\/(u[\w-]+)/g) ?? [];
    let after = before;
    for (let i = 0; i < 100 && after[0] === before[0]; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = address().match(/certhash\/(u[\w-]+)/g) ?? [];
    }
    expect(after[0]).toBe(before[1]);
    expect(after[1]).not.toBe(before[1]);
    // An address naming only the certificate that went out of use is refused; the new one works.
    const old = address().replace(/\/certhash\/.*\/p2p\//, `/${before[0]}/p2p/`);
    await expect(tab.dial(multiaddr(old))).rejects.toBeDefined();
    const connection = await tab.dial(multiaddr(address()));
    expect(linkType(connection.remoteAddr.toString())).toBe('webtransport');
    await tab.hangUp(server.peerId);
  });

  it('closes sessions whose Noise handshake is garbage or never comes, and keeps taking good ones', async () => {
    const [, , host, , port] = address().split('/');
    const sessions = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const client = await H3Client.connect({ host, port: Number(port) });
        const { stream } = await client.request(connectRequest(new URL(`https://${host}:${port}/.well-known/libp2p-webtransport?type=noise`)));
        // Half send noise where Noise's first message goes; half open nothing at all.
        if (i % 2 === 0) {
          const bidi = await client.openStream(stream.streamId);
          const writer = bidi.writable.getWriter();
          await writer.write(Uint8Array.from({ length: 200 }, (_, k) => (k * 37 + i) % 256));
          writer.releaseLock();
        }
        return client;
      }),
    );
    // The server gives up on each (a bad message at once, a silent one at the handshake timeout) by closing the connection.
    await Promise.all(sessions.map((client) => client.connection.closedP));
    const connection = await tab.dial(multiaddr(address()));
    expect(linkType(connection.remoteAddr.toString())).toBe('webtransport');
    await tab.hangUp(server.peerId);
  }, 60_000);

  it('names --webtransport-port when its UDP port is taken', async () => {
    const busy = createSocket('udp4');
    await new Promise<void>((resolve) => busy.bind(0, '127.0.0.1', () => resolve()));
    try {
      const error = await startLibp2pNode({ host: '127.0.0.1', port: 0, keyDir: null, webTransportPort: busy.address().port }).then(
        async (node) => {
          await node.stop();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(webTransportPortError(error)?.message).toBe(
        `WebTransport: UDP port ${busy.address().port} is already in use (another npm start?); stop it or pick another port with --webtransport-port`,
      );
    } finally {
      busy.close();
    }
  });
});
