// `npm start -- --https` end to end: scripts/start.ts on free ports serves every service securely with
// a certificate it made (app and API over https, Nostr relay over wss, libp2p WebSockets as /tls/ws),
// prints those URLs and an https invite whose bootstrap and relays are secure too, and a client that
// trusts only that certificate reaches each one: an https page on the LAN can then use all of them.
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { ping } from '@libp2p/ping';
import { webSockets } from '@libp2p/websockets';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { getCACertificates, setDefaultCACertificates, type TLSSocket } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { decodeInvite, readJoinLink } from '../mesh/invite.ts';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'tls-start-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function get(url: string, ca: string): Promise<{ status: number; headers: Record<string, unknown>; body: string; peerSans: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca }, (res) => {
      let body = '';
      // Read now: once the body has ended the socket may already be detached from the response.
      const peerSans = (res.socket as TLSSocket).getPeerCertificate().subjectaltname ?? '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, peerSans }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends a Nostr REQ over `url` (wss) trusting `ca` and resolves with the relay's first answer. */
function nostrReq(url: string, ca: string): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { ca });
    ws.on('open', () => ws.send(JSON.stringify(['REQ', 'tls-test', { kinds: [1], limit: 1 }])));
    ws.on('message', (data) => {
      resolve(JSON.parse(String(data)) as unknown[]);
      ws.close();
    });
    ws.on('error', reject);
  });
}

/** Dials the companion's libp2p address from a Node peer (the page's transports: WebSockets, noise, yamux) and pings it. */
async function dialAndPing(address: string): Promise<number> {
  const node = await createLibp2p({
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify(), ping: ping() },
  });
  try {
    return await node.services.ping.ping(multiaddr(address), { signal: AbortSignal.timeout(15_000) });
  } finally {
    await node.stop();
  }
}

describe('npm start -- --https', () => {
  it('serves app, API, relay and libp2p securely with its own certificate, and invites to them', async () => {
    const dist = join(dir, 'dist');
    const cache = join(dir, 'cache');
    mkdirSync(dist);
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>https app</title>');
    const child = spawn(
      join(root, 'node_modules', '.bin', 'node'),
      [
        'scripts/start.ts',
        '--https',
        '--skip-build',
        '--skip-model',
        '--dist',
        dist,
        '--cache-dir',
        cache,
        '--app-port',
        '0',
        '--nostr-port',
        '0',
        '--api-port',
        '0',
        '--libp2p-port',
        '0',
        '--webtransport-port',
        '0',
        '--quic-port',
        '0',
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const printed: Record<string, string> = {};
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URLs within 60 s; stderr:\n${stderr}`)), 60_000);
        child.once('exit', (code) => reject(new Error(`start exited with ${code}; stderr:\n${stderr}`)));
        createInterface({ input: child.stdout }).on('line', (line) => {
          const m = /^(\w+): (\S+)$/.exec(line.trim());
          if (m) printed[m[1]] = m[2];
          if (printed.webtransport) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      expect(printed.app).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(printed.api).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(printed.nostr).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
      expect(printed.libp2p).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/tls\/ws\/p2p\/\w+$/);
      expect(new URL(printed.invite).origin).toBe(printed.app);
      expect(new URL(printed.invite).hash).toMatch(/^#join=/);

      const ca = readFileSync(join(cache, 'tls-cert.pem'), 'utf8');
      expect(stderr).toContain(new X509Certificate(ca).fingerprint256);
      const page = await get(printed.app, ca);
      expect(page.status).toBe(200);
      expect(page.body).toContain('<title>https app</title>');
      expect(page.headers['cross-origin-opener-policy']).toBe('same-origin');
      expect(page.headers['cross-origin-embedder-policy']).toBe('require-corp');
      expect(page.peerSans).toContain('IP Address:127.0.0.1');
      expect(page.peerSans).toContain('DNS:localhost');
      // The companion info the page reads names the API it can reach.
      const info = JSON.parse((await get(`${printed.app}/companion.json`, ca)).body) as { api: string };
      expect(info.api).toBe(printed.api);
      // Without trusting the certificate the connection is refused: it really is self-signed.
      await expect(get(printed.app, '')).rejects.toThrow(/self-signed|certificate/i);

      // The API over https with the same certificate; /health lists the secure URLs.
      const health = await get(`${printed.api}/health`, ca);
      expect(health.status).toBe(200);
      expect((JSON.parse(health.body) as { services: Record<string, string> }).services).toMatchObject({
        api: printed.api,
        nostr: printed.nostr,
        libp2p: printed.libp2p,
      });
      // The tab-attach socket is wss on the API port, for the app's https origin.
      await new Promise<void>((resolve, reject) => {
        const tab = new WebSocket(`${printed.api.replace(/^https:/, 'wss:')}/attach`, { ca, origin: printed.app });
        tab.on('open', () => resolve(void tab.close()));
        tab.on('error', reject);
      });
      // The relay over wss: a REQ gets its stored events' end (EOSE), refused without the certificate.
      expect(await nostrReq(printed.nostr, ca)).toEqual(['EOSE', 'tls-test']);
      await expect(nostrReq(printed.nostr, '')).rejects.toThrow(/self-signed|certificate/i);
      // The invite points at the secure relay and libp2p listeners only (QUIC is always TLS 1.3).
      const invite = await decodeInvite(readJoinLink(printed.invite)!.token);
      expect(invite.relays).toEqual([printed.nostr]);
      expect(invite.bootstrap).toEqual([printed.libp2p, printed.quic, printed.webtransport]);
      // A libp2p peer dials /tls/ws (libp2p's WebSockets dialler uses the global WebSocket, which trusts the
      // process's default CAs: add this certificate to them for the dial only) and pings the companion.
      const defaults = getCACertificates('default');
      setDefaultCACertificates([...defaults, ca]);
      try {
        expect(await dialAndPing(printed.libp2p)).toBeGreaterThanOrEqual(0);
      } finally {
        setDefaultCACertificates(defaults);
      }
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }, 90_000);
});
