// Who may stay in a mesh: the head's deny list and the credential checks that use it. The head
// requires a valid member credential (credentials.ts) in every membership handshake, revokes a
// credential or a peer by gossiping the whole list again (a `revocations` message, signed like all
// gossip by its sender, taken only from the head), and members refuse revoked peers from then on:
// they hang up their links, so the head replans without their stages. Members also note which
// credential each peer showed them, so a revoked credential finds its holder.
import type { RevocationsMessage } from '../../protocol/mesh-messages.ts';
import { MAX_REVOCATIONS } from '../../protocol/mesh-messages.ts';
import { verifyCredential } from '../credentials.ts';
import { CREDENTIAL_REFUSED, type Admission } from './membership-stream.ts';
import type { MeshNode } from './mesh-node.ts';

export class DenyList {
  private readonly credentials = new Set<string>();
  private readonly peers = new Set<string>();
  /** Which peers showed which credential (so revoking a credential finds them). */
  private readonly shown = new Map<string, Set<string>>();
  /** When the credential each admitted peer showed last expires (seconds). */
  private readonly expiries = new Map<string, number>();

  isRevoked(credentialId: string, peerId: string): boolean {
    return this.credentials.has(credentialId) || this.peers.has(peerId);
  }

  /** A peer showed this credential, valid until `expiresAt` (seconds), and was let in. */
  noteShown(credentialId: string, peerId: string, expiresAt: number): void {
    const holders = this.shown.get(credentialId) ?? new Set<string>();
    holders.add(peerId);
    this.shown.set(credentialId, holders);
    this.expiries.set(peerId, expiresAt);
  }

  /** Peers whose last shown credential has expired by `now` (seconds); each is forgotten once returned. */
  takeExpired(now: number): string[] {
    const out = [...this.expiries].filter(([, at]) => at <= now).map(([peer]) => peer);
    for (const peer of out) this.expiries.delete(peer);
    return out;
  }

  /** Adds to the list (the head); false when it is full. */
  add(o: { credentials?: readonly string[]; peers?: readonly string[] }): boolean {
    for (const id of o.credentials ?? []) this.credentials.add(id);
    for (const id of o.peers ?? []) this.peers.add(id);
    return this.credentials.size <= MAX_REVOCATIONS && this.peers.size <= MAX_REVOCATIONS;
  }

  /** Takes the head's whole list (a member). */
  replace(m: Pick<RevocationsMessage, 'credentials' | 'peers'>): void {
    this.credentials.clear();
    this.peers.clear();
    this.add(m);
  }

  /** Every peer to refuse now: revoked by id, or holders of a revoked credential. */
  revokedPeers(): string[] {
    const out = new Set(this.peers);
    for (const id of this.credentials) for (const peer of this.shown.get(id) ?? []) out.add(peer);
    return [...out];
  }

  body(): { type: 'revocations'; credentials: string[]; peers: string[] } {
    return { type: 'revocations', credentials: [...this.credentials].slice(0, MAX_REVOCATIONS), peers: [...this.peers].slice(0, MAX_REVOCATIONS) };
  }
}

/**
 * The membership check's credential step. `required` (a head that issues credentials): no valid
 * credential, no entry. Not required (a member that knows its head's key, not whether the head
 * requires credentials): only the deny list counts, so a member is never stricter than its head: a
 * revoked peer, or one showing a revoked credential the head signed, is refused; anything else is
 * the head's to judge.
 */
export function credentialAdmission(o: { meshId: string | (() => string); head: string; deny: DenyList; required: boolean; now?: () => number }): Admission {
  return {
    check(credential, peerId) {
      if (o.deny.isRevoked('', peerId)) return 'the head revoked this member';
      if (credential === undefined && !o.required) return undefined;
      const revoked = (id: string, peer: string) => o.deny.isRevoked(id, peer);
      // Not required: expiry is the head's to enforce (time 0: never expired here).
      const now = o.required ? (o.now?.() ?? Math.floor(Date.now() / 1000)) : 0;
      const meshId = typeof o.meshId === 'string' ? o.meshId : o.meshId();
      const checked = verifyCredential(credential, { meshId, head: o.head, peerId, revoked, now });
      if (checked.ok) {
        o.deny.noteShown(checked.credential.id, peerId, checked.credential.expiresAt);
        return undefined;
      }
      return o.required || /revoked/.test(checked.reason) ? checked.reason : undefined;
    },
  };
}

/** A member following the head's deny list: revoked peers are refused and hung up on. Returns the unsubscribe. */
export function followRevocations(node: MeshNode, isHead: (peerId: string) => boolean, deny: DenyList): () => void {
  return node.addGossipListener((m) => {
    if (m.type !== 'revocations' || !isHead(m.peerId)) return;
    deny.replace(m);
    for (const peer of deny.revokedPeers()) void node.refuse(peer, 'the head revoked this member').catch(() => {});
  });
}

/** How often a head that requires credentials looks for members whose credential expired. */
export const EXPIRY_SWEEP_MS = 1000;

/**
 * A head that requires credentials: a member stays only while the credential it was let in with is
 * valid. Once it expires the member is dropped (its links hung up, the plan goes on without it); a
 * new invite lets it back in. Returns the stop.
 */
export function dropExpiredMembers(node: MeshNode, deny: DenyList, now = () => Math.floor(Date.now() / 1000)): () => void {
  const timer = setInterval(() => {
    for (const peer of deny.takeExpired(now()))
      if (node.isMember(peer)) node.refuse(peer, `${CREDENTIAL_REFUSED}: its member credential expired: ask the mesh’s head for a new invite`).catch(() => {});
  }, EXPIRY_SWEEP_MS);
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
}

/** The head revoking: adds to its list, refuses those peers itself, and gossips the whole list. */
export async function revoke(node: MeshNode, deny: DenyList, o: { credentials?: readonly string[]; peers?: readonly string[] }): Promise<void> {
  if (!deny.add(o))
    throw new RangeError(`a deny list holds at most ${MAX_REVOCATIONS} credentials and ${MAX_REVOCATIONS} peers: rotate the mesh secret instead`);
  for (const peer of deny.revokedPeers()) await node.refuse(peer, 'revoked');
  await node.publish(deny.body());
}
