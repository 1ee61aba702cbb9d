// Public and named meshes on the running parts. Their announcements are in clear (mesh-keys.ts,
// announce.ts) and anyone who knows the name may join, so membership proves only that: the
// membership handshake and gossip run as in a private mesh, on keys derived from the mesh's name
// instead of a secret. What still holds: Noise authenticates each peer id, every announcement is
// signed and bound to its libp2p key (announce.ts), and gossip checks the protocol version.
// A joiner finds the head (the companion, the one Node peer that coordinates) in the mesh's
// announcements on a relay and dials it, as an invite's bootstrap would be dialled.
import type { Relay } from 'nostr-tools/relay';
import { MeshError } from '../../protocol/errors.ts';
import type { ValidAnnouncement } from '../announce.ts';
import { utf8 } from '../bytes.ts';
import { connectRelay, watchAnnouncements } from '../discovery.ts';
import type { Invite } from '../invite.ts';
import { openMesh, type MeshAccess } from '../mesh-keys.ts';
import { linkType } from './link-type.ts';
import type { PrivateMesh } from './membership-stream.ts';
import type { OpenVisibility } from './open-mesh-link.ts';

export type { OpenVisibility };
export type OpenMeshAccess = Extract<MeshAccess, { visibility: 'public' | 'named' }>;

/** What a peer of a public or named mesh runs on: clear announcements, name-derived membership. */
export interface OpenMeshKeys {
  readonly access: OpenMeshAccess;
  /** Typed as a private mesh's keys so membership and gossip run the same code; anyone with the name derives them. */
  readonly membership: PrivateMesh;
}

export async function openMeshKeys(name: string, visibility: OpenVisibility): Promise<OpenMeshKeys> {
  const access = (await openMesh({ visibility, name })) as OpenMeshAccess;
  const ikm = await crypto.subtle.importKey('raw', utf8(`mesh-llm-web/open-mesh/v1\n${access.visibility}\n${access.meshId}`), 'HKDF', false, ['deriveKey']);
  const hkdf = (info: string) => ({ name: 'HKDF', hash: 'SHA-256', salt: utf8('mesh-llm-web/open-mesh-keys/v1'), info: utf8(info) });
  const memberKey = await crypto.subtle.deriveKey(hkdf('membership'), ikm, { name: 'HMAC', hash: 'SHA-256', length: 256 }, false, ['sign', 'verify']);
  // Never used to seal anything (announcements stay in clear); present because the type asks for it.
  const announceKey = await crypto.subtle.deriveKey(hkdf('announce'), ikm, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  return { access, membership: { visibility: 'private', meshId: access.meshId, announceKey, memberKey } };
}

/**
 * The head of an open mesh in its announcements: a Node peer (the companion's backend) with a
 * WebSockets address a tab can dial. Of several, the most recently announced.
 */
export function pickHead(announcements: Iterable<ValidAnnouncement>): ValidAnnouncement | undefined {
  let best: ValidAnnouncement | undefined;
  for (const a of announcements) {
    if (a.body.backend !== 'node' || !a.body.multiaddrs.some((m) => linkType(m) === 'websocket' && m.includes('/p2p/'))) continue;
    if (!best || a.createdAt > best.createdAt) best = a;
  }
  return best;
}

export class OpenMeshError extends MeshError {
  constructor(code: 'mesh_no_head' | 'mesh_no_relay', message: string) {
    super(code, message);
    this.name = 'OpenMeshError';
  }
}

export interface ResolveOptions {
  /** How long to wait for the head's announcement after the relay sent what it stored. */
  readonly timeoutMs?: number;
  readonly connect?: (url: string) => Promise<Relay>;
}

/**
 * Finds an open mesh's head on the relays (first that knows it) and returns what PeerNode joins
 * from: an invite-shaped bootstrap (the head's WebSockets address, the relay) and the mesh's keys.
 */
export async function resolveOpenMesh(
  name: string,
  visibility: OpenVisibility,
  relays: readonly string[],
  options: ResolveOptions = {},
): Promise<{ invite: Invite; keys: OpenMeshKeys; head: ValidAnnouncement }> {
  const keys = await openMeshKeys(name, visibility);
  if (relays.length === 0) throw new OpenMeshError('mesh_no_relay', 'no Nostr relay to look the mesh up on: start the companion (npm start) or set a relay');
  const failures: string[] = [];
  for (const url of relays) {
    let relay: Relay | undefined;
    try {
      relay = await (options.connect ?? connectRelay)(url);
      const head = await waitForHead(relay, keys.access, options.timeoutMs ?? 5000);
      if (!head) {
        failures.push(`${url}: no head announced`);
        continue;
      }
      const bootstrap = head.body.multiaddrs.filter((m) => linkType(m) === 'websocket' && m.includes('/p2p/'));
      // The secret is never read for an open mesh (PeerNode takes `keys` instead).
      return { invite: { meshId: keys.access.meshId, secret: new Uint8Array(0), bootstrap, relays: [url] }, keys, head };
    } catch (error) {
      failures.push(`${url}: ${(error as Error).message}`);
    } finally {
      if (relay) await closeRelay(relay);
    }
  }
  throw new OpenMeshError(
    'mesh_no_head',
    `no companion heads the ${visibility} mesh “${keys.access.name}” on ${relays.join(', ')} (${failures.join('; ')}): check the name, or start one with npm start -- --mesh-name`,
  );
}

function waitForHead(relay: Relay, access: OpenMeshAccess, timeoutMs: number): Promise<ValidAnnouncement | undefined> {
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const watch = watchAnnouncements(relay, {
      mesh: access,
      onPeer: (_a, table) => {
        const head = pickHead(table.list());
        if (head) finish(head);
      },
    });
    const finish = (head: ValidAnnouncement | undefined) => {
      clearTimeout(timer);
      watch.close();
      resolve(head);
    };
    void watch.synced
      .then(() => {
        const head = pickHead(watch.table.list());
        if (head) finish(head);
        else timer = setTimeout(() => finish(undefined), timeoutMs);
      })
      .catch(() => finish(undefined));
  });
}

/** One public mesh as the listing shows it. */
export interface PublicMeshEntry {
  readonly meshId: string;
  readonly name: string;
  /** Distinct announced peers. */
  readonly peers: number;
  readonly models: readonly string[];
  /** Whether a head (a companion) announces it: only then can a tab join. */
  readonly headed: boolean;
}

/** Groups the public listing's announcements by mesh (biggest first). */
export function summarizeListing(announcements: Iterable<ValidAnnouncement>): PublicMeshEntry[] {
  const meshes = new Map<string, ValidAnnouncement[]>();
  for (const a of announcements) {
    if (a.visibility !== 'public' || !a.body.meshName) continue;
    const list = meshes.get(a.body.meshId) ?? [];
    list.push(a);
    meshes.set(a.body.meshId, list);
  }
  return [...meshes.entries()]
    .map(([meshId, list]) => ({
      meshId,
      name: list[0].body.meshName as string,
      peers: list.length,
      models: [...new Set(list.flatMap((a) => a.body.models.map((m) => m.model)))].sort(),
      headed: pickHead(list) !== undefined,
    }))
    .sort((a, b) => b.peers - a.peers || (a.name < b.name ? -1 : 1));
}

/** The public meshes a relay lists (what it stored, validated), read once. */
export async function listPublicMeshes(
  url: string,
  options: { connect?: (url: string) => Promise<Relay>; timeoutMs?: number } = {},
): Promise<PublicMeshEntry[]> {
  const relay = await (options.connect ?? connectRelay)(url);
  try {
    const watch = watchAnnouncements(relay);
    await Promise.race([watch.synced, new Promise((resolve) => setTimeout(resolve, options.timeoutMs ?? 4000))]);
    watch.close();
    return summarizeListing(watch.table.list());
  } finally {
    await closeRelay(relay);
  }
}

/**
 * nostr-tools sends a subscription's CLOSE once its connection promise settles, a tick later: closing
 * the socket at once makes the browser log "WebSocket is already in CLOSING or CLOSED state".
 */
async function closeRelay(relay: Relay): Promise<void> {
  for (const sub of relay.openSubs.values()) sub.close();
  await new Promise((resolve) => setTimeout(resolve, 0));
  relay.close();
}
