// The companion as a member of its own private mesh: the secret (persisted), the invite `npm start`
// prints (bootstrap = its libp2p WebSockets address, and its QUIC one for native peers; relay = its
// Nostr relay), membership checks and
// gossip on its libp2p node, and its announcement kept current on its own relay.
import type { MeshIdentity } from '../identity.ts';
import { encodeInvite, inviteLink, type Invite } from '../invite.ts';
import { openMesh, type MeshAccess } from '../mesh-keys.ts';
import type { Relay } from 'nostr-tools/relay';
import { connectRelay } from '../discovery.ts';
import { Announcer } from './announcer.ts';
import type { IceServer } from '../ice-servers.ts';
import type { PrivateMesh } from './membership-stream.ts';
import { loadOrCreateMeshSecret, saveMeshSecret } from './mesh-secret-file.ts';
import { MeshNode, type MeshLibp2p } from './mesh-node.ts';
import type { Event } from 'nostr-tools/pure';
import { issueCredential } from '../credentials.ts';
import { credentialAdmission, DenyList, dropExpiredMembers, revoke } from './revocation.ts';
import { rotateSecret, type Rotation } from './rekey.ts';

export interface CompanionMeshOptions {
  readonly libp2p: MeshLibp2p;
  readonly identity: MeshIdentity;
  /** Where the mesh secret is kept; null: a new mesh each start (tests). */
  readonly cacheDir: string | null;
  readonly appUrl: string;
  readonly nostrUrl: string;
  readonly libp2pAddress: string;
  /** Its QUIC address (native peers prefer it; a tab, which cannot dial it, ignores it). */
  readonly quicAddress?: string;
  /**
   * Its WebTransport address now (tabs prefer it; native peers ignore it). Read at each announcement,
   * since its certificate hashes change every 6 days; the invite keeps the one at start.
   */
  readonly webTransportAddress?: () => string | undefined;
  readonly memoryBudgetBytes?: number;
  readonly models?: readonly string[];
  readonly announceTtlS?: number;
  /** One membership challenge's wait (tests shorten it). */
  readonly membershipTimeoutMs?: number;
  /** STUN/TURN servers the private mesh's invites name (ice-servers.ts). */
  readonly iceServers?: readonly IceServer[];
  /**
   * Admit only peers showing a member credential this head signed (issueInvite), unexpired and not
   * revoked. Off by default: the printed invite (no credential) then keeps working as before.
   */
  readonly requireCredentials?: boolean;
  readonly log?: (line: string) => void;
  /** How the companion reaches its own relay (over wss it must trust its self-signed certificate); default connectRelay. */
  readonly connectRelay?: (url: string) => Promise<Relay>;
}

export interface CompanionMesh extends MeshHead {
  readonly invite: Invite;
  readonly token: string;
  /** `<app>#join=<token>`: what `npm start` prints as `invite:`. */
  readonly link: string;
  /** An invite of its own for one member: this invite plus a credential valid `ttlS` seconds (revocable by its id). */
  issueInvite(o: { ttlS: number }): { invite: Invite; token: string; link: string; credentialId: string };
  /**
   * A new secret (rekey.ts): its invite is handed to each of `keep` with a credential valid `ttlS`,
   * saved as the companion's secret, and headed from now on (`invite`, `token` and `link` are the
   * new mesh's; every member is checked again, and only those holding the new invite get in).
   */
  rotate(o: { keep: readonly string[]; ttlS: number }): Promise<Rotation>;
}

export async function startCompanionMesh(o: CompanionMeshOptions): Promise<CompanionMesh> {
  const { secret } = await loadOrCreateMeshSecret(o.cacheDir);
  const mesh = (await openMesh({ visibility: 'private', secret })) as PrivateMesh;
  // The head's key travels in the invite: members take the deny list only from it.
  let invite: Invite = {
    meshId: mesh.meshId,
    secret,
    bootstrap: addressesOf(o),
    relays: [o.nostrUrl],
    head: o.identity.nostrPubkey,
    ...(o.iceServers && o.iceServers.length > 0 ? { iceServers: o.iceServers } : {}),
  };
  const head = await startMeshHead(o, mesh, mesh, 'announcing failed');
  const issueInvite = ({ ttlS }: { ttlS: number }) => {
    const credential = head.issueCredential({ ttlS });
    const own: Invite = { ...invite, credential };
    const ownToken = encodeInvite(own);
    return { invite: own, token: ownToken, link: inviteLink(o.appUrl, ownToken), credentialId: (JSON.parse(credential.content) as { id: string }).id };
  };
  const rotate = async ({ keep, ttlS }: { keep: readonly string[]; ttlS: number }) => {
    const rotation = await rotateSecret({ node: head.node, head: o.identity, current: invite, keep, ttlS });
    if (o.cacheDir !== null) await saveMeshSecret(o.cacheDir, rotation.invite.secret);
    // Heads the new mesh at once: the kept members join it with the invites they were just handed.
    await head.switchMesh((await openMesh({ visibility: 'private', secret: rotation.invite.secret })) as PrivateMesh);
    invite = { ...rotation.invite, bootstrap: addressesOf(o) };
    return rotation;
  };
  return {
    get invite() {
      return invite;
    },
    get token() {
      return encodeInvite(invite);
    },
    get link() {
      return inviteLink(o.appUrl, encodeInvite(invite));
    },
    issueInvite,
    rotate,
    node: head.node,
    get announcer() {
      return head.announcer;
    },
    issueCredential: head.issueCredential,
    revoke: head.revoke,
    switchMesh: head.switchMesh,
    stop: head.stop,
  };
}

/** WebSockets first: a tab of an older version dials every bootstrap address and fails on QUIC. */
function addressesOf(o: Pick<CompanionMeshOptions, 'libp2pAddress' | 'quicAddress' | 'webTransportAddress'>): string[] {
  const webTransport = o.webTransportAddress?.();
  return [o.libp2pAddress, ...(o.quicAddress ? [o.quicAddress] : []), ...(webTransport ? [webTransport] : [])];
}

/** What heading a mesh needs, whatever its access. */
export type MeshHeadOptions = Omit<CompanionMeshOptions, 'cacheDir'>;

export interface MeshHead {
  readonly node: MeshNode;
  readonly announcer: Announcer;
  /** A member credential signed by this head (credentials.ts), valid `ttlS` seconds, to `member` only when given. */
  issueCredential(o: { ttlS: number; member?: string }): Event;
  /** Revokes credentials (by id) or peers: refused here at once, and by every member once it hears the gossiped list. */
  revoke(o: { credentials?: readonly string[]; peers?: readonly string[] }): Promise<void>;
  /** A private mesh's head after rotating its secret: membership, gossip, credentials and the announcement on `next`. */
  switchMesh(next: PrivateMesh): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The companion heading a mesh on its libp2p node: membership and gossip with `membership`'s key,
 * its announcement (in `access`'s form: encrypted for a private mesh, in clear for an open one)
 * kept current on its relay. Shared by the private mesh and the public or named ones.
 */
export async function startMeshHead(o: MeshHeadOptions, membership: PrivateMesh, access: MeshAccess, failure: string): Promise<MeshHead> {
  const self = () => ({
    role: 'server' as const,
    backend: 'node' as const,
    memoryBudgetBytes: o.memoryBudgetBytes ?? 0,
    layerTokensPerSecond: 0,
    models: (o.models ?? []).map((model) => ({ model })),
  });
  const deny = new DenyList();
  let meshId = membership.meshId;
  const node = new MeshNode({
    libp2p: o.libp2p,
    mesh: membership,
    self,
    admission: credentialAdmission({ meshId: () => meshId, head: o.identity.nostrPubkey, deny, required: o.requireCredentials ?? false }),
    ...(o.log ? { log: o.log } : {}),
    ...(o.membershipTimeoutMs ? { membershipTimeoutMs: o.membershipTimeoutMs } : {}),
  });
  await node.start();
  const stopExpiry = o.requireCredentials ? dropExpiredMembers(node, deny) : () => {};
  // A member that joins late hears the deny list at once.
  const unlisten = node.addJoinListener(() => {
    const body = deny.body();
    if (body.credentials.length + body.peers.length > 0) void node.publish(body).catch(() => {});
  });
  let relay: Relay;
  try {
    relay = await (o.connectRelay ?? connectRelay)(o.nostrUrl);
  } catch (error) {
    stopExpiry();
    await node.stop();
    throw error;
  }
  const announce = (mesh: MeshAccess) =>
    new Announcer({
      relay,
      identity: o.identity,
      mesh,
      facts: () => ({ ...self(), multiaddrs: addressesOf(o) }),
      ...(o.announceTtlS ? { ttlS: o.announceTtlS } : {}),
      onError: (error) => o.log?.(`mesh: ${failure}: ${(error as Error).message}`),
    });
  let announcer = announce(access);
  await announcer.start();
  return {
    node,
    get announcer() {
      return announcer;
    },
    issueCredential: ({ ttlS, member }) => issueCredential(o.identity, meshId, { ttlS, ...(member ? { member } : {}) }),
    revoke: (what) => revoke(node, deny, what),
    async switchMesh(next) {
      if (access !== membership) throw new Error('only a private mesh switches its secret');
      meshId = next.meshId;
      await node.switchMesh(next);
      // The old mesh's announcement expires on its own; the new one is announced now.
      announcer.stop();
      announcer = announce(next);
      await announcer.start();
    },
    async stop() {
      unlisten();
      stopExpiry();
      announcer.stop();
      relay.close();
      await node.stop();
    },
  };
}
