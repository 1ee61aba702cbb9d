// Invite tokens and links for private meshes. A token is one URL-safe base64 string:
//   byte 0      token version (1)
//   bytes 1…n-5 UTF-8 JSON {"m": mesh id, "s": secret (base64url), "a": [multiaddrs],
//               "r": [Nostr relay URLs], "model"?: model id, or a head tab's model URL,
//               "h"?: the head's Nostr key (hex), "c"?: a member credential it signed (credentials.ts),
//               "i"?: STUN/TURN servers for WebRTC links (ice-servers.ts)}
//   last 4      CRC-32 (big-endian) of the bytes before it, so a truncated or mistyped token is
//               caught with a clear error instead of joining the wrong mesh.
// The envelope (version byte first, CRC-32 last) stays the same in every version, so an old app
// can tell a newer token from a damaged one. Fields an older app may ignore (`h`, `c`, `i`: without them
// it joins as before, and a head that requires credentials refuses it) keep the version; a change
// an older app must not misread bumps it.
// The link puts the token in the URL fragment (`#join=…`), which browsers never send to servers,
// so the secret stays out of server logs and Referer headers. Link parameters (in the fragment,
// or in the query string for tools that drop fragments):
//   join=<token>         the invite
//   role=server|client   server lends compute; client only uses the API (default: ask, server)
//   auto=1               join without the confirmation click (kiosks and tests)
import { MeshError } from '../protocol/errors.ts';
import type { PeerRole } from '../protocol/mesh-version.ts';
import { crc32, fromBase64Url, fromUtf8, toBase64Url, utf8 } from './bytes.ts';
import type { Event } from 'nostr-tools/pure';
import { CREDENTIAL_KIND, MAX_CREDENTIAL_BYTES } from './credential-format.ts';
import { type IceServer, iceServersProblem } from './ice-servers.ts';
import { MESH_SECRET_BYTES, newMeshSecret, openMesh } from './mesh-keys.ts';

export const INVITE_VERSION = 1;
const MAX_TOKEN_CHARS = 8192;
const MAX_ADDRESSES = 16;

export type InviteErrorCode =
  | 'invite_empty'
  | 'invite_not_base64'
  | 'invite_truncated'
  | 'invite_checksum'
  | 'invite_version'
  | 'invite_malformed'
  | 'invite_mesh_mismatch';

export class InviteError extends MeshError {
  constructor(code: InviteErrorCode, message: string) {
    super(code, message);
    this.name = 'InviteError';
  }
}

export interface Invite {
  readonly meshId: string;
  readonly secret: Uint8Array;
  /** libp2p multiaddrs to dial first (the companion, a relay). */
  readonly bootstrap: readonly string[];
  /** Nostr relays where the mesh announces itself. */
  readonly relays: readonly string[];
  /** The model the mesh plans: its id, or (a head tab's invite) the absolute URL members read its layers from. */
  readonly model?: string;
  /** The head's Nostr key (hex): whose credentials and deny lists count. */
  readonly head?: string;
  /** A member credential the head signed for whoever holds this invite (credentials.ts), with its expiry. */
  readonly credential?: Event;
  /** STUN/TURN servers the head names for WebRTC links between members (ice-servers.ts). */
  readonly iceServers?: readonly IceServer[];
}

/** A new private mesh: a fresh secret and the id derived from it. */
export async function createInvite(where: Omit<Invite, 'meshId' | 'secret'>): Promise<Invite> {
  const secret = newMeshSecret();
  const mesh = await openMesh({ visibility: 'private', secret });
  return { ...where, meshId: mesh.meshId, secret };
}

export function encodeInvite(invite: Invite): string {
  const payload: Record<string, unknown> = { m: invite.meshId, s: toBase64Url(invite.secret), a: invite.bootstrap, r: invite.relays };
  if (invite.model !== undefined) payload.model = invite.model;
  if (invite.head !== undefined) payload.h = invite.head;
  if (invite.credential !== undefined) payload.c = invite.credential;
  if (invite.iceServers !== undefined && invite.iceServers.length > 0) payload.i = invite.iceServers;
  const json = utf8(JSON.stringify(payload));
  const bytes = new Uint8Array(1 + json.length + 4);
  bytes[0] = INVITE_VERSION;
  bytes.set(json, 1);
  new DataView(bytes.buffer).setUint32(1 + json.length, crc32(bytes.subarray(0, 1 + json.length)));
  return toBase64Url(bytes);
}

const ASK_AGAIN = 'ask whoever shared it for the link again, and copy all of it';

/** Decodes and checks a token, including that its mesh id comes from its secret. */
export async function decodeInvite(token: string): Promise<Invite> {
  const text = token.trim();
  if (text.length === 0) throw new InviteError('invite_empty', 'the invite is empty: paste the whole invite link or token');
  if (text.length > MAX_TOKEN_CHARS)
    throw new InviteError('invite_malformed', `the invite is longer than ${MAX_TOKEN_CHARS} characters; it is not an invite of this app`);
  const bytes = fromBase64Url(text);
  if (!bytes) throw new InviteError('invite_not_base64', `the invite has characters an invite never has (only A–Z, a–z, 0–9, - and _): ${ASK_AGAIN}`);
  if (bytes.length < 1 + 2 + 4) throw new InviteError('invite_truncated', `the invite is too short to be whole: ${ASK_AGAIN}`);
  const body = bytes.subarray(0, bytes.length - 4);
  const stored = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4).getUint32(0);
  if (crc32(body) !== stored) throw new InviteError('invite_checksum', `the invite is damaged or cut short (checksum mismatch): ${ASK_AGAIN}`);
  if (bytes[0] !== INVITE_VERSION) {
    throw new InviteError(
      'invite_version',
      `this invite is version ${bytes[0]}, this app reads version ${INVITE_VERSION}: ${bytes[0] > INVITE_VERSION ? 'update or reload the app' : 'ask for a new invite'}`,
    );
  }
  const invite = parsePayload(fromUtf8(body.subarray(1)));
  const mesh = await openMesh({ visibility: 'private', secret: invite.secret });
  if (mesh.meshId !== invite.meshId) throw new InviteError('invite_mesh_mismatch', `the invite's mesh id does not match its secret: ${ASK_AGAIN}`);
  return invite;
}

function parsePayload(json: string | undefined): Invite {
  let p: unknown;
  try {
    p = json === undefined ? undefined : JSON.parse(json);
  } catch {
    p = undefined;
  }
  const bad = (what: string) => new InviteError('invite_malformed', `the invite's ${what} is not valid: ${ASK_AGAIN}`);
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw bad('content');
  const o = p as Record<string, unknown>;
  if (typeof o.m !== 'string' || !/^[0-9a-f]{64}$/.test(o.m)) throw bad('mesh id');
  const secret = typeof o.s === 'string' ? fromBase64Url(o.s) : undefined;
  if (!secret || secret.length !== MESH_SECRET_BYTES) throw bad('mesh secret');
  const strings = (v: unknown, what: string, ok: (s: string) => boolean): string[] => {
    if (!Array.isArray(v) || v.length > MAX_ADDRESSES || !v.every((s) => typeof s === 'string' && s.length <= 512 && ok(s))) throw bad(what);
    return v as string[];
  };
  const bootstrap = strings(o.a, 'bootstrap address list', (s) => /^\/[\x21-\x7e]+$/.test(s));
  const relays = strings(o.r, 'relay list', (s) => /^wss?:\/\/[\x21-\x7e]+$/.test(s));
  if (o.model !== undefined && (typeof o.model !== 'string' || o.model.length === 0 || o.model.length > 512)) throw bad('model');
  if (o.h !== undefined && (typeof o.h !== 'string' || !/^[0-9a-f]{64}$/.test(o.h))) throw bad('head key');
  const c = o.c as Event | undefined;
  if (c !== undefined && (typeof c !== 'object' || c === null || c.kind !== CREDENTIAL_KIND || JSON.stringify(c).length > MAX_CREDENTIAL_BYTES))
    throw bad('member credential');
  if (o.i !== undefined && iceServersProblem(o.i) !== undefined) throw bad(`STUN/TURN server list (${iceServersProblem(o.i)})`);
  return {
    meshId: o.m,
    secret,
    bootstrap,
    relays,
    ...(typeof o.model === 'string' ? { model: o.model } : {}),
    ...(typeof o.h === 'string' ? { head: o.h } : {}),
    ...(c ? { credential: c } : {}),
    ...(o.i !== undefined ? { iceServers: o.i as IceServer[] } : {}),
  };
}

export interface JoinLinkOptions {
  readonly role?: PeerRole;
  readonly auto?: boolean;
}

/** `<app>#join=<token>[&role=…][&auto=1]`; `appUrl` is the app's page (origin, or origin plus path). */
export function inviteLink(appUrl: string, token: string, options: JoinLinkOptions = {}): string {
  const url = new URL(appUrl);
  const params = new URLSearchParams({ join: token });
  if (options.role) params.set('role', options.role);
  if (options.auto) params.set('auto', '1');
  url.hash = params.toString();
  return url.toString();
}

export interface JoinRequest {
  readonly token: string;
  readonly role?: PeerRole;
  readonly auto: boolean;
}

/** A link's parameters where the app reads them: the fragment first, then the query; none for a malformed URL. */
export function linkParams(link: string): URLSearchParams[] {
  try {
    const url = new URL(link);
    return [new URLSearchParams(url.hash.replace(/^#/, '')), url.searchParams];
  } catch {
    return [];
  }
}

/** The `role` and `auto` parameters every join link (invite or open mesh) may carry. */
export function joinFlags(params: URLSearchParams): { readonly role?: PeerRole; readonly auto: boolean } {
  const role = params.get('role');
  const auto = params.get('auto');
  return { ...(role === 'server' || role === 'client' ? { role } : {}), auto: auto === '1' || auto === 'true' };
}

/** The join request in a link (fragment first, then query), or undefined when it has none. */
export function readJoinLink(link: string): JoinRequest | undefined {
  for (const params of linkParams(link)) {
    const token = params.get('join');
    if (token) return { token, ...joinFlags(params) };
  }
  return undefined;
}
