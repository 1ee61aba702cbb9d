// A self-signed certificate for `npm start -- --https`: a page opened from another machine on the LAN
// is a secure context (needed for WebGPU, crypto.subtle, service workers) only over HTTPS. Made in
// process with `selfsigned` (Node has no X.509 writer; this needs no system openssl), kept under the
// cache dir and reused while it is valid and names every host asked for; otherwise made again.
import { createHash, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { MeshError } from '../protocol/errors.ts';

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly certPath: string;
  readonly keyPath: string;
  /** SHA-256 fingerprint, printed so a person can check it when the browser warns. */
  readonly fingerprint: string;
  /** Base64 SHA-256 of the public key (SPKI), what Chromium's --ignore-certificate-errors-spki-list takes. */
  readonly spki: string;
  /** True when this call made it (false: reused from the cache dir). */
  readonly created: boolean;
}

export class TlsError extends MeshError {
  constructor(code: 'certificate_unwritable', message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = 'TlsError';
  }
}

/** Hosts every certificate names, besides the bind host: the ways this machine reaches itself. */
export const LOCAL_NAMES = ['localhost', '127.0.0.1', '::1'] as const;
/** Browsers refuse leaf certificates valid longer than 398 days. */
const VALID_DAYS = 397;

/** The names a certificate for these hosts carries: loopback first, brackets off, wildcard binds left out. */
function certificateNames(hosts: readonly string[]): string[] {
  return [...new Set([...LOCAL_NAMES, ...hosts].map((h) => h.replace(/^\[(.*)\]$/, '$1')).filter((h) => h !== '0.0.0.0' && h !== '::' && h !== ''))];
}

/** The subjectAltName value for these hosts, as openssl and Node write it: IP addresses as IP:, names as DNS:. */
export function subjectAltNames(hosts: readonly string[]): string {
  return certificateNames(hosts)
    .map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`))
    .join(',');
}

/** Whether a certificate names every host and stays valid for at least another day. */
export function certificateCovers(pem: string, hosts: readonly string[], now = Date.now()): boolean {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    return false;
  }
  if (Date.parse(cert.validTo) - now < 24 * 3600_000) return false;
  const have = new Set((cert.subjectAltName ?? '').split(', ').map((entry) => entry.replace(/^IP Address:/, 'IP:').trim()));
  // Node prints IPv6 SANs expanded and upper-case; compare those loosely through the URL parser.
  const norm = (entry: string) => (entry.startsWith('IP:') && entry.includes(':', 3) ? `IP:${new URL(`http://[${entry.slice(3)}]`).hostname}` : entry);
  const haveNorm = new Set([...have].map(norm));
  return subjectAltNames(hosts)
    .split(',')
    .every((want) => haveNorm.has(norm(want)));
}

/** The certificate and key for `hosts` under `dir`, made when missing, expiring or lacking a host. */
export async function ensureCertificate(dir: string, hosts: readonly string[]): Promise<TlsFiles> {
  const certPath = join(dir, 'tls-cert.pem');
  const keyPath = join(dir, 'tls-key.pem');
  const existing = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]).catch(() => null);
  if (existing && certificateCovers(existing[0], hosts)) return files(existing[0], existing[1], certPath, keyPath, false);

  const made = await selfSigned(hosts, Date.now(), VALID_DAYS);
  // Written beside the final paths and renamed over them, so a crash never leaves half a pair.
  const tmpCert = `${certPath}.${process.pid}.tmp`;
  const tmpKey = `${keyPath}.${process.pid}.tmp`;
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(tmpKey, made.private, { mode: 0o600 });
    await writeFile(tmpCert, made.cert);
    await rename(tmpKey, keyPath);
    await rename(tmpCert, certPath);
  } catch (error) {
    await Promise.all([tmpCert, tmpKey].map((tmp) => rm(tmp, { force: true }).catch(() => undefined)));
    throw new TlsError(
      'certificate_unwritable',
      `--https could not keep its certificate in ${dir} (${(error as Error).message}); pass a writable --cache-dir or serve over http`,
      { cause: error },
    );
  }
  return files(made.cert, made.private, certPath, keyPath, true);
}

/** A self-signed ECDSA P-256 server certificate naming `hosts`, valid `days` from `notBefore`. */
async function selfSigned(hosts: readonly string[], notBefore: number, days: number): Promise<{ cert: string; private: string }> {
  // Loaded only when a certificate is made: the library and its X.509 stack take ~150 ms to import.
  const { generate } = await import('selfsigned');
  const notBeforeDate = new Date(notBefore);
  return generate([{ name: 'commonName', value: 'Mesh LLM companion (self-signed)' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBefore + days * 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: certificateNames(hosts).map((h) => (isIP(h) ? { type: 7 as const, ip: h } : { type: 2 as const, value: h })) },
    ],
  });
}

/** A WebTransport certificate: browsers take one by hash only when it is ECDSA and valid under 14 days. */
export interface WebTransportCertificate {
  readonly cert: string;
  readonly key: string;
  /** SHA-256 of the DER certificate: what `serverCertificateHashes` and a multiaddr's /certhash carry. */
  readonly hash: Uint8Array;
  readonly notAfter: number;
}

/** Days a WebTransport certificate is valid (browsers refuse 14 or more). */
export const WEBTRANSPORT_VALID_DAYS = 12;

/** A WebTransport certificate for `hosts`, valid WEBTRANSPORT_VALID_DAYS from `notBefore` (webtransport-certificates.ts keeps a companion's pair). */
export async function webTransportCertificate(hosts: readonly string[], notBefore = Date.now()): Promise<WebTransportCertificate> {
  // An hour back, so a peer whose clock runs a little behind still finds it valid.
  const start = notBefore - 3600_000;
  const made = await selfSigned(hosts, start, WEBTRANSPORT_VALID_DAYS);
  const x509 = new X509Certificate(made.cert);
  return { cert: made.cert, key: made.private, hash: new Uint8Array(createHash('sha256').update(x509.raw).digest()), notAfter: Date.parse(x509.validTo) };
}

function files(cert: string, key: string, certPath: string, keyPath: string, created: boolean): TlsFiles {
  return { cert, key, certPath, keyPath, fingerprint: new X509Certificate(cert).fingerprint256, spki: spkiHash(cert), created };
}

/** Base64 SHA-256 of a certificate's SubjectPublicKeyInfo (the form HPKP pins and Chromium flags use). */
export function spkiHash(pem: string): string {
  return createHash('sha256')
    .update(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64');
}
