// `npm start -- --https` end to end: scripts/start.ts on free ports serves the app over HTTPS with a
// certificate it made, prints an https app URL and an https invite, keeps the API on http, and the
// page (fetched trusting only that certificate) carries the cross-origin isolation headers.
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TLSSocket } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';

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

describe('npm start -- --https', () => {
  it('serves the app over HTTPS with its own certificate, isolated, and invites to the https origin', async () => {
    const dist = join(dir, 'dist');
    const cache = join(dir, 'cache');
    mkdirSync(dist);
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>https app</title>');
    const child = spawn(join(root, 'node_modules', '.bin', 'node'), [
      'scripts/start.ts', '--https', '--skip-build', '--skip-model', '--dist', dist, '--cache-dir', cache,
      '--app-port', '0', '--nostr-port', '0', '--api-port', '0', '--libp2p-port', '0',
    ], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
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
          if (printed.libp2p) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      expect(printed.app).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(printed.api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
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
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }, 90_000);
});
