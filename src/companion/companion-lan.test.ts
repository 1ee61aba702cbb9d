// What a companion meant for other devices prints: a wildcard bind names this machine's LAN address
// (from its routing table), --public-host names itself, in every URL, the invite and the certificate.
import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeInvite, readJoinLink } from '../mesh/invite.ts';
import { lanAddress } from './lan-address.ts';
import { startTestCompanion, type TestCompanion } from './testing/companion.ts';

const started: TestCompanion[] = [];

function getTrusting(url: string, ca: string, origin: string): Promise<{ status: number; allowOrigin: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers: { origin } }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, allowOrigin: res.headers['access-control-allow-origin'] });
    });
    req.on('error', reject);
    req.end();
  });
}
afterAll(async () => {
  await Promise.all(started.map((t) => t.stop()));
});

async function start(config: Parameters<typeof startTestCompanion>[0]): Promise<TestCompanion> {
  const t = await startTestCompanion(config);
  started.push(t);
  return t;
}

describe('a companion for other devices', () => {
  it("names this machine's LAN address for a wildcard bind, and its certificate covers it", async () => {
    const lan = await lanAddress();
    const t = await start({ host: '0.0.0.0', https: true });
    const host = lan ?? '127.0.0.1'; // a machine without a default route has only loopback to name
    const { urls } = t.companion;
    expect(urls.app).toMatch(new RegExp(`^https://${host.replaceAll('.', '\\.')}:\\d+$`));
    expect(urls.api).toMatch(new RegExp(`^https://${host.replaceAll('.', '\\.')}:\\d+$`));
    expect(urls.nostr).toMatch(new RegExp(`^wss://${host.replaceAll('.', '\\.')}:\\d+$`));
    expect(urls.libp2p).toMatch(new RegExp(`^/ip4/${host.replaceAll('.', '\\.')}/tcp/\\d+/tls/ws/p2p/\\w+$`));
    expect(urls.quic).toMatch(new RegExp(`^/ip4/${host.replaceAll('.', '\\.')}/udp/\\d+/quic-v1/p2p/\\w+$`));
    expect(urls.webtransport).toMatch(
      new RegExp(`^/ip4/${host.replaceAll('.', '\\.')}/udp/\\d+/quic-v1/webtransport/certhash/u[\\w-]+/certhash/u[\\w-]+/p2p/\\w+$`),
    );
    const invite = await decodeInvite(readJoinLink(t.companion.mesh.link)!.token);
    expect(new URL(t.companion.mesh.link).origin).toBe(urls.app);
    expect(invite.relays).toEqual([urls.nostr]);
    expect(invite.bootstrap).toEqual([urls.libp2p, urls.quic, urls.webtransport]);
    expect(new X509Certificate(t.companion.tls!.cert).checkIP(host)).toBe(host);
    // Reached on this machine through loopback too, by the same certificate.
    expect(new X509Certificate(t.companion.tls!.cert).checkIP('127.0.0.1')).toBe('127.0.0.1');
  });

  it('names --public-host everywhere, as a /dns/ multiaddr for a name, and in the certificate', async () => {
    const t = await start({ host: '127.0.0.1', publicHost: 'mybox.test', https: true });
    const { urls } = t.companion;
    expect(urls.app).toMatch(/^https:\/\/mybox\.test:\d+$/);
    expect(urls.api).toMatch(/^https:\/\/mybox\.test:\d+$/);
    expect(urls.nostr).toMatch(/^wss:\/\/mybox\.test:\d+$/);
    expect(urls.libp2p).toMatch(/^\/dns\/mybox\.test\/tcp\/\d+\/tls\/ws\/p2p\/\w+$/);
    expect(new URL(t.companion.mesh.link).origin).toBe(urls.app);
    expect((await decodeInvite(readJoinLink(t.companion.mesh.link)!.token)).bootstrap).toEqual([urls.libp2p, urls.quic, urls.webtransport]);
    expect(new X509Certificate(t.companion.tls!.cert).checkHost('mybox.test')).toBe('mybox.test');
    // The companion announced itself on its own relay through loopback (the name resolves nowhere here),
    // and its API answers pages of the public origin (CORS) over the same certificate.
    const health = await getTrusting(`https://127.0.0.1:${new URL(urls.api).port}/health`, t.companion.tls!.cert, urls.app);
    expect(health.status).toBe(200);
    expect(health.allowOrigin).toBe(urls.app);
  });
});
