import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { certificateCovers, ensureCertificate, spkiHash, subjectAltNames, TlsError } from './tls.ts';

/** A certificate ensureCertificate made, kept to check the SPKI hash against openssl's. */
const FIXTURE_CERT = `-----BEGIN CERTIFICATE-----
MIIBszCCAVmgAwIBAgIJRkI8Qex6R+HHMAoGCCqGSM49BAMCMCsxKTAnBgNVBAMT
IE1lc2ggTExNIGNvbXBhbmlvbiAoc2VsZi1zaWduZWQpMB4XDTI2MTIwNzA0MzM0
NFoXDTI4MDEwODA0MzM0NFowKzEpMCcGA1UEAxMgTWVzaCBMTE0gY29tcGFuaW9u
IChzZWxmLXNpZ25lZCkwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASO41ZGR3Es
mdiTGmwUqKbQ+NKNKd0fXdZEDC11fyT8oTPNgT1VLb2pvWaSwxQEVCW1a890m1g0
Nc+KTLjASt0/o2YwZDAJBgNVHRMEAjAAMA4GA1UdDwEB/wQEAwIHgDATBgNVHSUE
DDAKBggrBgEFBQcDATAyBgNVHREEKzApgglsb2NhbGhvc3SHBH8AAAGHEAAAAAAA
AAAAAAAAAAAAAAGHBMAAAgowCgYIKoZIzj0EAwIDSAAwRQIhAJEQZLmqB8GRSrMd
uLvtzU32CPBCE06cVlfhsjcqcJPUAiBxsoJ5wfcRjHTYxYqvVoOLkcJPSV0BlVb3
UkCINuVadw==
-----END CERTIFICATE-----`;

const dir = mkdtempSync(join(tmpdir(), 'tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tls', () => {
  it('names loopback and the bind host, IPs as IP: and names as DNS:, wildcards left out', () => {
    expect(subjectAltNames(['192.168.1.20'])).toBe('DNS:localhost,IP:127.0.0.1,IP:::1,IP:192.168.1.20');
    expect(subjectAltNames(['0.0.0.0'])).toBe('DNS:localhost,IP:127.0.0.1,IP:::1');
    expect(subjectAltNames(['mybox.lan', '127.0.0.1'])).toBe('DNS:localhost,IP:127.0.0.1,IP:::1,DNS:mybox.lan');
  });

  it('makes a certificate, reuses it, and makes a new one for a host it does not name', async () => {
    const first = await ensureCertificate(dir, ['192.168.7.9', 'mybox.lan']);
    expect(first.created).toBe(true);
    const cert = new X509Certificate(first.cert);
    expect(cert.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:192.168.7.9, DNS:mybox.lan');
    expect(cert.subject).toContain('CN=Mesh LLM companion (self-signed)');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // extended key usage: TLS server only
    expect(cert.ca).toBe(false);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(first.key))).toBe(true);
    // Browsers refuse leaf certificates valid longer than 398 days.
    expect(Date.parse(cert.validTo) - Date.parse(cert.validFrom)).toBeLessThanOrEqual(398 * 24 * 3600_000);
    expect(statSync(first.keyPath).mode & 0o077).toBe(0);
    expect(certificateCovers(first.cert, ['192.168.7.9', '127.0.0.1'])).toBe(true);
    expect(certificateCovers(first.cert, ['10.0.0.1'])).toBe(false);
    // A year from now it is about to expire: made again then.
    expect(certificateCovers(first.cert, [], Date.now() + 397 * 24 * 3600_000)).toBe(false);

    const again = await ensureCertificate(dir, ['127.0.0.1']);
    expect(again.created).toBe(false);
    expect(again.fingerprint).toBe(first.fingerprint);
    expect(again.spki).toBe(first.spki);

    const other = await ensureCertificate(dir, ['10.0.0.1']);
    expect(other.created).toBe(true);
    expect(other.fingerprint).not.toBe(first.fingerprint);
    expect(other.spki).not.toBe(first.spki); // a new key too: a browser trusting the old one must trust it again
  });

  it("hashes the public key as Chromium's --ignore-certificate-errors-spki-list wants it", () => {
    // Expected value from Chromium's documented recipe: openssl x509 -pubkey | openssl pkey -pubin
    // -outform der | openssl dgst -sha256 -binary | base64.
    expect(spkiHash(FIXTURE_CERT)).toBe('gX0ViAwz23e/nOUbMvWQYTWlHoVqdaJxFkx8We7EUOs=');
  });

  it('replaces a cached certificate it cannot read', async () => {
    const own = join(dir, 'garbled');
    const made = await ensureCertificate(own, []);
    writeFileSync(made.certPath, 'not a certificate');
    const again = await ensureCertificate(own, []);
    expect(again.created).toBe(true);
    expect(certificateCovers(again.cert, [])).toBe(true);
  });

  it('says what to do when the cache dir cannot be written', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    const error = await ensureCertificate(join(file, 'cache'), ['127.0.0.1']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TlsError);
    expect((error as TlsError).code).toBe('certificate_unwritable');
    expect((error as Error).message).toMatch(/writable --cache-dir/);
  });
});
