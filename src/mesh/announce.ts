// Building and checking mesh announcements (format in src/protocol/mesh-announcement.ts). The
// validator is the gate for everything learned from relays: it never throws, and it accepts only
// announcements that are well formed, current, of our protocol version, signed by their Nostr key,
// bound to their libp2p peer id, and (for private meshes) sealed with the mesh key.
import { finalizeEvent, type Event } from 'nostr-tools/pure';
import {
  APP_TAG,
  ENCRYPTED_CONTENT_PREFIX,
  MAX_ANNOUNCEMENT_TTL_S,
  MAX_CLOCK_SKEW_S,
  MAX_CONTENT_CHARS,
  MESH_ANNOUNCEMENT_KIND,
  PUBLIC_MESH_TAG,
  validateAnnouncementBody,
  type MeshAnnouncementBody,
  type MeshVisibility,
} from '../protocol/mesh-announcement.ts';
import { rejected, type Checked } from '../protocol/mesh-checks.ts';
import { MESH_PROTOCOL_VERSION, versionMismatchReason } from '../protocol/mesh-version.ts';
import { signBinding, verifyBinding, verifyEventFresh, type MeshIdentity } from './identity.ts';
import { decryptContent, encryptContent, openMesh, type MeshAccess } from './mesh-keys.ts';

export const DEFAULT_ANNOUNCEMENT_TTL_S = 600;

/** What a peer says about itself; identity, binding and mesh fields are filled in. */
export type AnnouncementFacts = Omit<MeshAnnouncementBody, 'protocol' | 'meshId' | 'meshName' | 'peerId' | 'libp2pKey' | 'binding'>;

export interface AnnounceOptions {
  /**
   * Unix seconds. A re-announcement must be later than the last one: relays keep one replaceable
   * event per author and mesh, and of two with the same created_at, the lower id (a coin toss).
   */
  readonly now?: number;
  readonly ttlS?: number;
}

export async function createAnnouncement(identity: MeshIdentity, mesh: MeshAccess, facts: AnnouncementFacts, options: AnnounceOptions = {}): Promise<Event> {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const ttl = Math.min(options.ttlS ?? DEFAULT_ANNOUNCEMENT_TTL_S, MAX_ANNOUNCEMENT_TTL_S);
  const body: MeshAnnouncementBody = {
    protocol: MESH_PROTOCOL_VERSION,
    meshId: mesh.meshId,
    // A named mesh is found by whoever knows its name: on the relay it is only the hash (the d tag).
    ...(mesh.visibility === 'public' ? { meshName: mesh.name } : {}),
    ...(await signBinding(identity)),
    ...facts,
  };
  const json = JSON.stringify(body);
  const content = mesh.visibility === 'private' ? await encryptContent(mesh.announceKey, mesh.meshId, identity.nostrPubkey, json) : json;
  const tags = [
    ['d', mesh.meshId],
    ['expiration', String(now + ttl)],
    ['t', APP_TAG],
    ...(mesh.visibility === 'public' ? [['t', PUBLIC_MESH_TAG]] : []),
    ['v', String(MESH_PROTOCOL_VERSION)],
  ];
  return finalizeEvent({ kind: MESH_ANNOUNCEMENT_KIND, created_at: now, tags, content }, identity.nostrSecretKey);
}

/** Relay filter for one mesh's announcements. */
export function meshFilter(mesh: MeshAccess): { kinds: number[]; '#d': string[] } {
  return { kinds: [MESH_ANNOUNCEMENT_KIND], '#d': [mesh.meshId] };
}

/** Relay filter listing every public mesh's announcements. */
export function publicListingFilter(): { kinds: number[]; '#t': string[] } {
  return { kinds: [MESH_ANNOUNCEMENT_KIND], '#t': [PUBLIC_MESH_TAG] };
}

export interface ValidAnnouncement {
  readonly nostrPubkey: string;
  readonly eventId: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly visibility: MeshVisibility;
  readonly body: MeshAnnouncementBody;
}

export interface ValidateOptions {
  readonly now?: number;
}

/**
 * Checks an event from a relay. With `mesh`, it must belong to that mesh (and be sealed with its key
 * if private); without, it must be a public mesh's listing. Never throws.
 */
export async function validateAnnouncement(event: unknown, mesh: MeshAccess | undefined, options: ValidateOptions = {}): Promise<Checked<ValidAnnouncement>> {
  try {
    return await validate(event, mesh, options.now ?? Math.floor(Date.now() / 1000));
  } catch (error) {
    return rejected('malformed', `unreadable announcement (${error instanceof Error ? error.message : 'unknown error'})`);
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;
const DECIMAL = /^(0|[1-9][0-9]{0,11})$/;
const MAX_TAGS = 32;

async function validate(value: unknown, mesh: MeshAccess | undefined, now: number): Promise<Checked<ValidAnnouncement>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return rejected('malformed', 'an announcement is a Nostr event object');
  const e = value as Record<string, unknown>;
  if (e.kind !== MESH_ANNOUNCEMENT_KIND) return rejected('malformed', `kind must be ${MESH_ANNOUNCEMENT_KIND}`);
  if (typeof e.id !== 'string' || !HEX64.test(e.id) || typeof e.pubkey !== 'string' || !HEX64.test(e.pubkey))
    return rejected('malformed', 'id and pubkey must be 64 hex chars');
  if (typeof e.sig !== 'string' || !HEX128.test(e.sig)) return rejected('malformed', 'sig must be 128 hex chars');
  if (typeof e.created_at !== 'number' || !Number.isSafeInteger(e.created_at) || e.created_at < 0)
    return rejected('malformed', 'created_at must be a unix time in seconds');
  if (typeof e.content !== 'string') return rejected('malformed', 'content must be a string');
  if (e.content.length > MAX_CONTENT_CHARS) return rejected('too_large', `content is longer than ${MAX_CONTENT_CHARS} characters`);
  const tags = e.tags;
  if (!Array.isArray(tags) || tags.length > MAX_TAGS) return rejected('malformed', `tags must be an array of at most ${MAX_TAGS} tags`);
  for (const tag of tags) {
    if (!Array.isArray(tag) || tag.length === 0 || tag.length > 8 || tag.some((v) => typeof v !== 'string' || v.length > 1024))
      return rejected('malformed', 'each tag must be a short array of strings');
  }
  const single = (name: string): string | undefined | null => {
    const found = (tags as string[][]).filter((t) => t[0] === name);
    return found.length === 0 ? undefined : found.length === 1 ? (found[0][1] ?? null) : null;
  };
  const version = single('v');
  if (typeof version !== 'string' || !DECIMAL.test(version)) return rejected('malformed', 'needs exactly one v tag with the protocol version');
  if (Number(version) !== MESH_PROTOCOL_VERSION) return rejected('unsupported_version', versionMismatchReason(Number(version)));
  const meshId = single('d');
  if (typeof meshId !== 'string' || !HEX64.test(meshId)) return rejected('malformed', 'needs exactly one d tag with a 64-hex mesh id');
  const expiration = single('expiration');
  if (typeof expiration !== 'string' || !DECIMAL.test(expiration)) return rejected('malformed', 'needs exactly one NIP-40 expiration tag');
  const expiresAt = Number(expiration);
  if (expiresAt <= now) return rejected('expired', `expired ${now - expiresAt} s ago`);
  if (e.created_at > now + MAX_CLOCK_SKEW_S) return rejected('not_yet_valid', 'created_at is in the future: check this computer’s or the peer’s clock');
  if (expiresAt - e.created_at > MAX_ANNOUNCEMENT_TTL_S) return rejected('malformed', `lives longer than ${MAX_ANNOUNCEMENT_TTL_S} s`);
  const isPublic = tags.some((t: string[]) => t[0] === 't' && t[1] === PUBLIC_MESH_TAG);
  if (mesh && mesh.meshId !== meshId) return rejected('wrong_mesh', 'announcement is for another mesh');
  if (!mesh && !isPublic) return rejected('wrong_mesh', 'not a public mesh: it is found only by its name or invite');
  if (!verifyEventFresh(e as unknown as Event)) return rejected('bad_signature', 'the Nostr signature or event id does not match');

  let json: string | undefined;
  if (mesh?.visibility === 'private') {
    json = await decryptContent(mesh.announceKey, meshId, e.pubkey, e.content);
    if (json === undefined) return rejected('undecryptable', 'not sealed with this mesh’s key (an outsider’s or a tampered announcement)');
  } else {
    if (e.content.startsWith(ENCRYPTED_CONTENT_PREFIX))
      return rejected('undecryptable', 'the content is encrypted: this is a private mesh, join it with its invite link');
    json = e.content;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return rejected('malformed', 'content is not JSON');
  }
  const body = validateAnnouncementBody(parsed);
  if (!body.ok) return body;
  const b = body.value;
  if (b.protocol !== MESH_PROTOCOL_VERSION) return rejected('unsupported_version', versionMismatchReason(b.protocol));
  if (b.meshId !== meshId) return rejected('wrong_mesh', 'the body names another mesh than its d tag');
  const visibility: MeshVisibility = mesh?.visibility ?? 'public';
  if (visibility === 'private' && b.meshName !== undefined) return rejected('malformed', 'a private mesh announcement must not carry a name');
  if (visibility !== 'private') {
    // The name shown in listings must be the one the id comes from, or a listing could lie about it.
    // A named mesh's announcement carries none (older peers' did; it must then match too).
    if (b.meshName === undefined && visibility === 'public') return rejected('malformed', 'a public mesh announcement carries its name');
    if (b.meshName !== undefined) {
      const named = await openMesh({ visibility: isPublic ? 'public' : 'named', name: b.meshName });
      if (named.meshId !== meshId) return rejected('wrong_mesh', 'the mesh name does not match the mesh id');
    }
  }
  const binding = await verifyBinding(e.pubkey, b);
  if (!binding.ok) return rejected('binding_mismatch', binding.reason);
  return { ok: true, value: { nostrPubkey: e.pubkey, eventId: e.id, createdAt: e.created_at, expiresAt, visibility, body: b } };
}
