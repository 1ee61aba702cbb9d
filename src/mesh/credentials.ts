// Member credentials: what the head of a mesh signs for each member it lets in, with an expiry. A
// credential is a Nostr event of its own kind, never published, signed by the head's Nostr key
// (the key an open mesh's link names, and the one a private mesh's invite carries as `h`):
//   content  {"mesh": mesh id, "id": 32 hex (what a deny list names), "exp": unix s, "member"?: peer id}
// A credential without `member` is a bearer one (it travels in an invite: whoever holds the invite
// holds it); with one, only that peer may show it. The membership handshake carries it after the
// proof (net/membership-stream.ts), and a head that requires credentials refuses a peer without a
// valid, unexpired, unrevoked one, however right its proof of the mesh secret.
import { finalizeEvent, type Event } from 'nostr-tools/pure';
import { randomBytes, toHex } from './bytes.ts';
import { verifyEventFresh, type MeshIdentity } from './identity.ts';

import { CREDENTIAL_KIND, MAX_CREDENTIAL_BYTES } from './credential-format.ts';

export { CREDENTIAL_KIND, MAX_CREDENTIAL_BYTES };

export interface MemberCredential {
  readonly meshId: string;
  readonly id: string;
  /** Unix seconds. */
  readonly expiresAt: number;
  readonly member?: string;
  /** The head's Nostr key that signed it. */
  readonly head: string;
}

/** A credential signed by `head` for `meshId`, valid for `ttlS` seconds (to `member` only, when given). */
export function issueCredential(head: MeshIdentity, meshId: string, o: { ttlS: number; member?: string; now?: number }): Event {
  const now = o.now ?? Math.floor(Date.now() / 1000);
  const content = JSON.stringify({
    mesh: meshId,
    id: toHex(randomBytes(16)),
    exp: now + Math.max(1, Math.floor(o.ttlS)),
    ...(o.member ? { member: o.member } : {}),
  });
  return finalizeEvent({ kind: CREDENTIAL_KIND, created_at: now, tags: [], content }, head.nostrSecretKey);
}

export interface CredentialExpect {
  readonly meshId: string;
  /** The head's Nostr key (hex). */
  readonly head: string;
  /** The peer showing it (its Noise-authenticated id). */
  readonly peerId: string;
  readonly now?: number;
  /** The head's deny list: a revoked credential id or peer. */
  readonly revoked?: (credentialId: string, peerId: string) => boolean;
}

export type CredentialCheck = { readonly ok: true; readonly credential: MemberCredential } | { readonly ok: false; readonly reason: string };

/** Checks a credential someone showed. Never throws. */
export function verifyCredential(value: unknown, e: CredentialExpect): CredentialCheck {
  const no = (reason: string): CredentialCheck => ({ ok: false, reason });
  if (typeof value !== 'object' || value === null) return no('no member credential');
  const event = value as Event;
  if (event.kind !== CREDENTIAL_KIND || typeof event.content !== 'string' || event.content.length > MAX_CREDENTIAL_BYTES) return no('not a member credential');
  if (event.pubkey !== e.head) return no('the credential is not signed by this mesh’s head');
  let valid = false;
  try {
    valid = verifyEventFresh(event);
  } catch {
    valid = false;
  }
  if (!valid) return no('the credential’s signature does not match');
  let body: { mesh?: unknown; id?: unknown; exp?: unknown; member?: unknown };
  try {
    body = JSON.parse(event.content) as typeof body;
  } catch {
    return no('the credential’s content is not JSON');
  }
  if (body.mesh !== e.meshId) return no('the credential is for another mesh');
  if (typeof body.id !== 'string' || !/^[0-9a-f]{32}$/.test(body.id)) return no('the credential has no id');
  if (typeof body.exp !== 'number' || !Number.isSafeInteger(body.exp)) return no('the credential has no expiry');
  const now = e.now ?? Math.floor(Date.now() / 1000);
  if (body.exp <= now) return no(`the credential expired ${now - body.exp} s ago: ask the mesh’s head for a new invite`);
  if (body.member !== undefined && body.member !== e.peerId) return no('the credential was issued to another peer');
  if (e.revoked?.(body.id, e.peerId)) return no('the head revoked this member');
  const credential: MemberCredential = {
    meshId: body.mesh,
    id: body.id,
    expiresAt: body.exp,
    head: event.pubkey,
    ...(typeof body.member === 'string' ? { member: body.member } : {}),
  };
  return { ok: true, credential };
}
