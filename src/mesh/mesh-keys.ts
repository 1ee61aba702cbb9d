// How a mesh is named and keyed. Public and named meshes get an id from their name (anyone who
// knows the name finds them); a private mesh gets its id and keys from its secret by HKDF, so the
// id says nothing about the secret and only holders of the secret can read or write its
// announcements or prove membership. WebCrypto only: the same in browsers and Node 22.
import { ENCRYPTED_CONTENT_PREFIX, MESH_ANNOUNCEMENT_KIND } from '../protocol/mesh-announcement.ts';
import { MeshError } from '../protocol/errors.ts';
import { concatBytes, fromBase64Url, fromUtf8, randomBytes, toBase64Url, toHex, utf8 } from './bytes.ts';

export const MESH_SECRET_BYTES = 32;
const HKDF_SALT = utf8('mesh-llm-web/mesh-keys/v1');

export type MeshSpec =
  | { readonly visibility: 'public'; readonly name: string }
  | { readonly visibility: 'named'; readonly name: string }
  | { readonly visibility: 'private'; readonly secret: Uint8Array };

export type MeshAccess =
  | { readonly visibility: 'public' | 'named'; readonly meshId: string; readonly name: string }
  | {
      readonly visibility: 'private';
      readonly meshId: string;
      /** AES-GCM-256 for announcement bodies. */
      readonly announceKey: CryptoKey;
      /** HMAC-SHA-256 for membership proofs. */
      readonly memberKey: CryptoKey;
    };

export function newMeshSecret(): Uint8Array<ArrayBuffer> {
  return randomBytes(MESH_SECRET_BYTES);
}

/** Trimmed, NFKC, lower case: "My Mesh" and " my mesh" are the same mesh. */
export function normalizeMeshName(name: string): string {
  return name.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();
}

export async function openMesh(spec: MeshSpec): Promise<MeshAccess> {
  if (spec.visibility === 'private') {
    if (spec.secret.length !== MESH_SECRET_BYTES) {
      throw new MeshError('mesh_bad_secret', `a mesh secret is ${MESH_SECRET_BYTES} bytes, got ${spec.secret.length}: copy the whole invite link again`);
    }
    const ikm = await crypto.subtle.importKey('raw', new Uint8Array(spec.secret), 'HKDF', false, ['deriveBits', 'deriveKey']);
    const hkdf = (info: string) => ({ name: 'HKDF', hash: 'SHA-256', salt: HKDF_SALT, info: utf8(info) });
    const meshId = toHex(new Uint8Array(await crypto.subtle.deriveBits(hkdf('mesh-id'), ikm, 256)));
    const announceKey = await crypto.subtle.deriveKey(hkdf('announce'), ikm, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    const memberKey = await crypto.subtle.deriveKey(hkdf('membership'), ikm, { name: 'HMAC', hash: 'SHA-256', length: 256 }, false, ['sign', 'verify']);
    return { visibility: 'private', meshId, announceKey, memberKey };
  }
  const name = normalizeMeshName(spec.name);
  if (name.length === 0 || name.length > 128) throw new MeshError('mesh_bad_name', 'a mesh name has 1 to 128 characters');
  const digest = await crypto.subtle.digest('SHA-256', utf8(`mesh-llm-web/${spec.visibility}-mesh/v1\n${name}`));
  return { visibility: spec.visibility, meshId: toHex(new Uint8Array(digest)), name };
}

/** Binds a ciphertext to its mesh and author, so it cannot be re-signed by another key. */
function associatedData(meshId: string, nostrPubkey: string): Uint8Array<ArrayBuffer> {
  return utf8(`mesh-llm-web/announce/v1\n${MESH_ANNOUNCEMENT_KIND}\n${meshId}\n${nostrPubkey}`);
}

export async function encryptContent(key: CryptoKey, meshId: string, nostrPubkey: string, plaintext: string): Promise<string> {
  const iv = randomBytes(12);
  const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: associatedData(meshId, nostrPubkey) }, key, utf8(plaintext));
  return ENCRYPTED_CONTENT_PREFIX + toBase64Url(concatBytes(iv, new Uint8Array(sealed)));
}

/** Undefined when the content is not ours to read: wrong key, other author, tampered, or not encrypted. */
export async function decryptContent(key: CryptoKey, meshId: string, nostrPubkey: string, content: string): Promise<string | undefined> {
  if (!content.startsWith(ENCRYPTED_CONTENT_PREFIX)) return undefined;
  const bytes = fromBase64Url(content.slice(ENCRYPTED_CONTENT_PREFIX.length));
  if (!bytes || bytes.length < 12 + 16) return undefined;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: bytes.slice(0, 12), additionalData: associatedData(meshId, nostrPubkey) },
      key,
      bytes.slice(12),
    );
    return fromUtf8(new Uint8Array(plain));
  } catch {
    return undefined;
  }
}
