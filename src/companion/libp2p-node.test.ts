import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { identify } from '@libp2p/identify';
import { ping } from '@libp2p/ping';
import { webSockets } from '@libp2p/websockets';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { afterAll, describe, expect, it } from 'vitest';
import { startLibp2pNode, webSocketAddress } from './libp2p-node.ts';

const dir = mkdtempSync(join(tmpdir(), 'companion-libp2p-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function createClient(listen: string[] = []) {
  return createLibp2p({
    addresses: { listen },
    transports: [webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping() },
  });
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('companion libp2p node', () => {
  it('listens on WebSockets, answers a ping, and grants a circuit relay reservation', async () => {
    const node = await startLibp2pNode({ host: '127.0.0.1', port: 0, keyDir: null });
    const address = webSocketAddress(node);
    expect(address).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/ws/p2p/${node.peerId.toString()}$`));
    expect(address).not.toContain('/tcp/0/');

    const dialer = await createClient();
    const rtt = await dialer.services.ping.ping(multiaddr(address));
    expect(rtt).toBeGreaterThanOrEqual(0);

    // A browser tab does this: listen "through" the relay, which makes a reservation on it.
    const listener = await createClient([`${address}/p2p-circuit`]);
    const relayed = await waitFor('a relayed address', () =>
      listener
        .getMultiaddrs()
        .map(String)
        .find((a) => a.includes('/p2p-circuit')),
    );
    expect(relayed).toContain(`${node.peerId.toString()}/p2p-circuit/p2p/${listener.peerId.toString()}`);
    expect(node.services.relay.reservations.has(listener.peerId)).toBe(true);

    // And another peer reaches it through the relay.
    const viaRelay = await dialer.dial(multiaddr(relayed));
    expect(viaRelay.remotePeer.equals(listener.peerId)).toBe(true);
    expect(viaRelay.limits).toBeDefined();

    // Ctrl-C must not wait on connected tabs.
    const stopping = Date.now();
    await node.stop();
    expect(Date.now() - stopping).toBeLessThan(2000);
    await Promise.all([dialer.stop(), listener.stop()]);
  });

  it('keeps its peer id across restarts when given a key folder', async () => {
    const first = await startLibp2pNode({ host: '127.0.0.1', port: 0, keyDir: dir });
    const id = first.peerId.toString();
    await first.stop();
    const second = await startLibp2pNode({ host: '127.0.0.1', port: 0, keyDir: dir });
    expect(second.peerId.toString()).toBe(id);
    await second.stop();
    const fresh = await startLibp2pNode({ host: '127.0.0.1', port: 0, keyDir: join(dir, 'other') });
    expect(fresh.peerId.toString()).not.toBe(id);
    await fresh.stop();
  });
});
