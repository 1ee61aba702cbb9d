// A self-signed certificate for `npm start -- --https`: a page opened from another machine on the LAN
// is a secure context (needed for WebGPU, crypto.subtle, service workers) only over HTTPS. Made with
// the system's `openssl` (Node has no X.509 writer), kept under the cache dir and reused while it is
// valid and names every host asked for; otherwise made again.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MeshError } from '../protocol/errors.ts';

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly certPath: string;
  readonly keyPath: string;
  /** SHA-256 fingerprint, printed so a person can check it when the browser warns. */
  readonly fingerprint: string;
  /** True when this call made it (false: reused from the cache dir). */
  readonly created: boolean;
}

export class TlsError extends MeshError {
  constructor(code: 'openssl_missing' | 'openssl_failed', message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = 'TlsError';
  }
}

/** Hosts every certificate names, besides the bind host: the ways this machine reaches itself. */
export const LOCAL_NAMES = ['localhost', '127.0.0.1', '::1'] as const;
/** Browsers refuse leaf certificates valid longer than 398 days. */
const VALID_DAYS = 397;

/** The subjectAltName value for these hosts: IP addresses as IP:, names as DNS:. Wildcard binds add nothing. */
export function subjectAltNames(hosts: readonly string[]): string {
  const names = [...new Set([...LOCAL_NAMES, ...hosts].map((h) => h.replace(/^\[(.*)\]$/, '$1')).filter((h) => h !== '0.0.0.0' && h !== '::' && h !== ''))];
  return names.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
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
  return subjectAltNames(hosts).split(',').every((want) => haveNorm.has(norm(want)));
}

/** The certificate and key for `hosts` under `dir`, made with openssl when missing, expiring or lacking a host. */
export async function ensureCertificate(dir: string, hosts: readonly string[], options: { openssl?: string } = {}): Promise<TlsFiles> {
  const certPath = join(dir, 'tls-cert.pem');
  const keyPath = join(dir, 'tls-key.pem');
  const existing = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]).catch(() => null);
  if (existing && certificateCovers(existing[0], hosts)) return files(existing[0], existing[1], certPath, keyPath, false);

  await mkdir(dir, { recursive: true });
  const tmpCert = `${certPath}.${process.pid}.tmp`;
  const tmpKey = `${keyPath}.${process.pid}.tmp`;
  const openssl = options.openssl ?? 'openssl';
  try {
    await promisify(execFile)(openssl, [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-days', String(VALID_DAYS), '-subj', '/CN=Mesh LLM companion (self-signed)',
      '-addext', `subjectAltName=${subjectAltNames(hosts)}`,
      '-addext', 'extendedKeyUsage=serverAuth',
      '-keyout', tmpKey, '-out', tmpCert,
    ], { timeout: 30_000 });
    await rename(tmpKey, keyPath);
    await rename(tmpCert, certPath);
  } catch (error) {
    await Promise.all([rm(tmpCert, { force: true }), rm(tmpKey, { force: true })]);
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new TlsError('openssl_missing', `--https needs the openssl command to make a certificate, and ${openssl} was not found; install it (apt-get install openssl) or serve over http`, { cause: error });
    }
    throw new TlsError('openssl_failed', `making a certificate with openssl failed: ${(error as { stderr?: string }).stderr?.trim() || (error as Error).message}`, { cause: error });
  }
  return files(await readFile(certPath, 'utf8'), await readFile(keyPath, 'utf8'), certPath, keyPath, true);
}

function files(cert: string, key: string, certPath: string, keyPath: string, created: boolean): TlsFiles {
  return { cert, key, certPath, keyPath, fingerprint: new X509Certificate(cert).fingerprint256, created };
}
