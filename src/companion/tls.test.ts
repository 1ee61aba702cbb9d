import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { certificateCovers, ensureCertificate, subjectAltNames, TlsError } from './tls.ts';

const dir = mkdtempSync(join(tmpdir(), 'tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tls', () => {
  it('names loopback and the bind host, IPs as IP: and names as DNS:, wildcards left out', () => {
    expect(subjectAltNames(['192.168.1.20'])).toBe('DNS:localhost,IP:127.0.0.1,IP:::1,IP:192.168.1.20');
    expect(subjectAltNames(['0.0.0.0'])).toBe('DNS:localhost,IP:127.0.0.1,IP:::1');
    expect(subjectAltNames(['mybox.lan', '127.0.0.1'])).toBe('DNS:localhost,IP:127.0.0.1,IP:::1,DNS:mybox.lan');
  });

  it('makes a certificate with openssl, reuses it, and makes a new one for a host it does not name', async () => {
    const first = await ensureCertificate(dir, ['192.168.7.9']);
    expect(first.created).toBe(true);
    const cert = new X509Certificate(first.cert);
    expect(cert.subjectAltName).toContain('IP Address:192.168.7.9');
    expect(cert.subjectAltName).toContain('DNS:localhost');
    expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(first.key))).toBe(true);
    expect(certificateCovers(first.cert, ['192.168.7.9', '127.0.0.1'])).toBe(true);
    expect(certificateCovers(first.cert, ['10.0.0.1'])).toBe(false);
    // A year from now it is about to expire: made again then.
    expect(certificateCovers(first.cert, [], Date.now() + 397 * 24 * 3600_000)).toBe(false);

    const again = await ensureCertificate(dir, ['127.0.0.1']);
    expect(again.created).toBe(false);
    expect(again.fingerprint).toBe(first.fingerprint);

    const other = await ensureCertificate(dir, ['10.0.0.1']);
    expect(other.created).toBe(true);
    expect(other.fingerprint).not.toBe(first.fingerprint);
  });

  it('says what to do when openssl is missing', async () => {
    const error = await ensureCertificate(join(dir, 'none'), ['127.0.0.1'], { openssl: '/nonexistent/openssl' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TlsError);
    expect((error as TlsError).code).toBe('openssl_missing');
    expect((error as Error).message).toMatch(/install it/);
  });
});
