// Two peers with nothing between them but a Nostr relay: the offer and answer cross the relay, the
// data channel carries Noise and yamux, and the mesh's membership check runs on the link as on any
// other. Node has no RTCPeerConnection; node-datachannel's stands in for the browser's.
import { lpStream } from '@libp2p/utils';
import { RTCPeerConnection } from 'node-datachannel/polyfill';
import { Relay } from 'nostr-tools/relay';
import { afterEach, describe, expect, it } from 'vitest';
import { startNostrRelay, type RunningNostrRelay } from '../../companion/nostr-relay.ts';
import { createIdentity, type MeshIdentity } from '../identity.ts';
import { newMeshSecret, openMesh } from '../mesh-keys.ts';
import type { PrivateMesh } from './membership-stream.ts';
import type { IceServer } from '../ice-servers.ts';
import { MeshNode } from './mesh-node.ts';
import { createPeerLibp2p, type PeerLibp2p } from './peer-libp2p.ts';

const stops: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops.length = 0;
});

async function peer(
  url: string,
  mesh: PrivateMesh,
  o: { peerConnection?: typeof RTCPeerConnection; iceServers?: IceServer[] } = {},
): Promise<{ identity: MeshIdentity; libp2p: PeerLibp2p; rtc: NonNullable<PeerLibp2p['services']['rtc']> }> {
  const identity = await createIdentity();
  const libp2p = await createPeerLibp2p(identity, {
    webrtc: false,
    peerConnection: (o.peerConnection ?? RTCPeerConnection) as unknown as typeof globalThis.RTCPeerConnection,
    ...(o.iceServers ? { iceServers: o.iceServers } : {}),
  });
  stops.push(() => libp2p.stop());
  const relay = await Relay.connect(url);
  stops.push(() => relay.close());
  const rtc = libp2p.services.rtc;
  if (!rtc) throw new Error('no rtc service');
  rtc.attach({ relay, identity, mesh });
  return { identity, libp2p, rtc };
}

/**
 * node-datachannel now and then fails an answer under load ("a remote candidate without ICE
 * transport", never seen in Chromium): peers offer again (peer-links.ts), and so does the test, up
 * to three times, saying so.
 */
async function connect(from: Awaited<ReturnType<typeof peer>>, to: Awaited<ReturnType<typeof peer>>) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await from.rtc.connect({ peerId: to.identity.peerId, nostrPubkey: to.identity.nostrPubkey });
    } catch (error) {
      if (attempt === 3) throw error;
      console.warn(`nostr-webrtc test: offer ${attempt} failed (${(error as Error).message}); offering again`);
    }
  }
}

describe('WebRTC signalled over the mesh’s Nostr relay', () => {
  let nostr: RunningNostrRelay;

  it('links two members directly, authenticated by Noise, and carries a megabyte each way through yamux', async () => {
    nostr = await startNostrRelay({ host: '127.0.0.1', port: 0 });
    stops.push(() => nostr.stop());
    const url = `ws://127.0.0.1:${nostr.port}`;
    const mesh = (await openMesh({ visibility: 'private', secret: newMeshSecret() })) as PrivateMesh;
    const [a, b] = [await peer(url, mesh), await peer(url, mesh)];
    const echo = '/test/echo/1.0.0';
    await b.libp2p.handle(echo, async (stream) => {
      const lp = lpStream(stream);
      for (;;) {
        const message = await lp.read().catch(() => undefined);
        if (!message) break;
        await lp.write(message.subarray());
      }
      await stream.close();
    });

    const connection = await connect(a, b);
    expect(connection.remotePeer.toString()).toBe(b.identity.peerId);
    expect(connection.remoteAddr.toString()).toBe(`/webrtc/p2p/${b.identity.peerId}`);
    expect(connection.encryption).toBe('/noise');
    // The answering side finishes its half of the upgrade a moment later.
    await expect.poll(() => b.libp2p.getConnections().map((c) => c.remotePeer.toString())).toEqual([a.identity.peerId]);

    const stream = await connection.newStream(echo);
    const lp = lpStream(stream, { maxDataLength: 2 << 20 });
    const big = new Uint8Array(1 << 20).map((_, i) => (i * 7) & 0xff);
    await lp.write(big);
    const back = await lp.read();
    expect(back.subarray()).toEqual(big);
    await stream.close();
  });

  it('gives the mesh layer a link it checks membership on, so gossip flows between the two', async () => {
    nostr = await startNostrRelay({ host: '127.0.0.1', port: 0 });
    stops.push(() => nostr.stop());
    const url = `ws://127.0.0.1:${nostr.port}`;
    const mesh = (await openMesh({ visibility: 'private', secret: newMeshSecret() })) as PrivateMesh;
    const [a, b] = [await peer(url, mesh), await peer(url, mesh)];
    const nodes = [a, b].map(
      (p) =>
        new MeshNode({
          libp2p: p.libp2p,
          mesh,
          self: () => ({ role: 'server', backend: 'wasm', memoryBudgetBytes: 1, layerTokensPerSecond: 0, models: [] }),
          stateIntervalMs: 200,
        }),
    );
    for (const n of nodes) {
      await n.start();
      stops.push(() => n.stop());
    }
    await connect(a, b);
    const deadline = Date.now() + 10_000;
    while (!(nodes[0]?.memberList().some((m) => m.state) && nodes[1]?.memberList().some((m) => m.state))) {
      if (Date.now() > deadline) throw new Error('no gossip over the WebRTC link within 10 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(nodes[0]?.memberList().map((m) => [m.peerId, m.links])).toEqual([[b.identity.peerId, ['webrtc']]]);
  });

  it('hands each RTCPeerConnection the STUN/TURN servers it was given', async () => {
    nostr = await startNostrRelay({ host: '127.0.0.1', port: 0 });
    stops.push(() => nostr.stop());
    const url = `ws://127.0.0.1:${nostr.port}`;
    const mesh = (await openMesh({ visibility: 'private', secret: newMeshSecret() })) as PrivateMesh;
    const given: RTCConfiguration[] = [];
    // Records the configuration, and links over host candidates only (nothing answers STUN here).
    class Recording extends RTCPeerConnection {
      constructor(config?: RTCConfiguration) {
        given.push(config ?? {});
        super({ ...config, iceServers: [] });
      }
    }
    const iceServers = [{ urls: 'stun:stun.example.org:3478' }, { urls: 'turn:turn.example.org:3478', username: 'u', credential: 'p' }];
    const [a, b] = [await peer(url, mesh, { peerConnection: Recording, iceServers }), await peer(url, mesh, { peerConnection: Recording, iceServers })];
    await connect(a, b);
    expect(given.length).toBeGreaterThanOrEqual(2);
    for (const config of given) expect(config.iceServers).toEqual(iceServers);
  });
});
