// Public and named meshes on the running parts. Their announcements are in clear (mesh-keys.ts,
// announce.ts) and anyone who knows the name may join, so membership proves only that: the
// membership handshake and gossip run as in a private mesh, on keys derived from the mesh's name
// instead of a secret. What still holds: Noise authenticates each peer id, every announcement is
// signed and bound to its libp2p key (announce.ts), and gossip checks the protocol version.
// A joiner finds the head (the companion, the one Node peer that coordinates) in the mesh's
// announcements on a relay and dials it, as an invite's bootstrap would be dialled. Anyone can
// announce a name, so a link that names the head's key (`head=`, open-mesh-link.ts) is followed
// only to that key's announcement, whose binding gives the one peer id whose signed plans count;
// without one the head is unauthenticated (said in the UI), picked by a rule that at least refuses
// announcements dated ahead of now (a stranger's way to always be "the newest").
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

/** How far ahead of this clock an unauthenticated head's announcement may be dated and still count. */
export const HEAD_CLOCK_SKEW_S = 30;

export interface PickHeadOptions {
  /** The head's Nostr key (hex) from the link: only its own announcement counts. */
  readonly head?: string;
  /** Unix seconds (tests). */
  readonly now?: number;
}

/** The head's own WebSockets addresses in its announcement: only those naming its bound peer id. */
function headAddresses(a: ValidAnnouncement): string[] {
  return a.body.multiaddrs.filter((m) => linkType(m) === 'websocket' && m.endsWith(`/p2p/${a.body.peerId}`));
}

/**
 * The head of an open mesh in its announcements: a Node peer (the companion's backend) with a
 * WebSockets address a tab can dial. With `head`, only the announcement that key signed. Without,
 * of several the most recently announced, ignoring any dated more than HEAD_CLOCK_SKEW_S ahead.
 */
export function pickHead(announcements: Iterable<ValidAnnouncement>, options: PickHeadOptions = {}): ValidAnnouncement | undefined {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  let best: ValidAnnouncement | undefined;
  for (const a of announcements) {
    if (a.body.backend !== 'node' || headAddresses(a).length === 0) continue;
    if (options.head !== undefined ? a.nostrPubkey !== options.head : a.createdAt > now + HEAD_CLOCK_SKEW_S) continue;
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
  /** The head's Nostr key (hex) the link names; without it the head found is unauthenticated. */
  readonly head?: string;
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
): Promise<{ invite: Invite; keys: OpenMeshKeys; head: ValidAnnouncement; authenticated: boolean }> {
  const keys = await openMeshKeys(name, visibility);
  if (relays.length === 0) throw new OpenMeshError('mesh_no_relay', 'no Nostr relay to look the mesh up on: start the companion (npm start) or set a relay');
  const failures: string[] = [];
  for (const url of relays) {
    let relay: Relay | undefined;
    try {
      relay = await (options.connect ?? connectRelay)(url);
      const head = await waitForHead(relay, keys.access, options.timeoutMs ?? 5000, options.head);
      if (!head) {
        failures.push(`${url}: ${options.head ? `no head with key ${options.head.slice(0, 12)}… announced` : 'no head announced'}`);
        continue;
      }
      // Only addresses naming the head's bound peer id: that id is the one whose plans are followed.
      const bootstrap = headAddresses(head);
      // The secret is never read for an open mesh (PeerNode takes `keys` instead).
      const invite = { meshId: keys.access.meshId, secret: new Uint8Array(0), bootstrap, relays: [url] };
      return { invite, keys, head, authenticated: options.head !== undefined };
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

function waitForHead(relay: Relay, access: OpenMeshAccess, timeoutMs: number, key: string | undefined): Promise<ValidAnnouncement | undefined> {
  const pick = (list: Iterable<ValidAnnouncement>) => pickHead(list, key ? { head: key } : {});
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const watch = watchAnnouncements(relay, {
      mesh: access,
      onPeer: (_a, table) => {
        const head = pick(table.list());
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
        const head = pick(watch.table.list());
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
