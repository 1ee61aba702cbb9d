// The WebTransport bridge's two certificates (the one served and the next), kept in a file beside the
// companion's key, so a restart serves the hashes its invites and announcements already carry. A file
// that is unreadable, of another shape, or whose certificates no longer cover the time until the next
// rotation is ignored: new certificates are made (and the invites given out before need renewing).
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { WebTransportCertificate } from './tls.ts';

export interface KeptCertificates {
  readonly certificates: [WebTransportCertificate, WebTransportCertificate];
  /** When the first went into use (ms): the next rotation is rotateMs after it. */
  readonly rotatedAt: number;
}

interface StoredCertificate {
  readonly cert: string;
  readonly key: string;
}

function restore(stored: unknown): WebTransportCertificate {
  const { cert, key } = stored as StoredCertificate;
  if (typeof cert !== 'string' || typeof key !== 'string') throw new Error('not a certificate');
  const x509 = new X509Certificate(cert);
  if (!x509.checkPrivateKey(createPrivateKey(key))) throw new Error('the key is not the certificate’s');
  return { cert, key, hash: new Uint8Array(createHash('sha256').update(x509.raw).digest()), notAfter: Date.parse(x509.validTo) };
}

/** The kept pair, when both are valid now and the one served stays valid until the next rotation; else undefined. */
export async function loadCertificates(file: string, now: number, rotateMs: number): Promise<KeptCertificates | undefined> {
  try {
    const stored = JSON.parse(await readFile(file, 'utf8')) as { certificates?: unknown[]; rotatedAt?: unknown };
    if (!Array.isArray(stored.certificates) || stored.certificates.length !== 2 || typeof stored.rotatedAt !== 'number') return undefined;
    const certificates: [WebTransportCertificate, WebTransportCertificate] = [restore(stored.certificates[0]), restore(stored.certificates[1])];
    const rotatedAt = Math.min(stored.rotatedAt, now);
    // The served one must last until the next rotation, the next one a rotation beyond that.
    if (certificates[0].notAfter <= Math.max(now, rotatedAt + rotateMs) || certificates[1].notAfter <= now + rotateMs) return undefined;
    return { certificates, rotatedAt };
  } catch {
    return undefined;
  }
}

export async function saveCertificates(file: string, certificates: readonly WebTransportCertificate[], rotatedAt: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify({ certificates: certificates.map(({ cert, key }) => ({ cert, key })), rotatedAt }), { mode: 0o600 });
  await rename(tmp, file);
}
