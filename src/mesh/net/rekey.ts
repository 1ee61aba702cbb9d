// Rotating a mesh's secret while keeping the members the head chooses: the head makes a new secret
// (a new mesh id and keys: the old invite, and everyone who only holds it, are out), gives each
// kept member a credential bound to its peer id and hands it the new invite over a members-only
// stream (Noise proves both ends, so nobody else receives or forges it). A member takes an invite
// only from its head, only for a mesh whose head key is the same, and then joins the new mesh with it.
import { lpStream } from '@libp2p/utils';
import { fromUtf8, utf8 } from '../bytes.ts';
import { createInvite, decodeInvite, encodeInvite, type Invite } from '../invite.ts';
import { issueCredential } from '../credentials.ts';
import type { MeshIdentity } from '../identity.ts';
import type { MeshNode } from './mesh-node.ts';
import { REKEY_PROTOCOL } from './protocols.ts';

const MAX_TOKEN_BYTES = 8192;
const TIMEOUT_MS = 10_000;

export interface Rotation {
  /** The new mesh's invite (no credential: each kept member gets its own). */
  readonly invite: Invite;
  /** Kept members that received theirs, and those that could not be reached (they need a new invite by hand). */
  readonly delivered: readonly string[];
  readonly missed: readonly string[];
}

/** The head: a new secret, and its invite handed to each of `keep` (members now) with a credential valid `ttlS`. */
export async function rotateSecret(o: { node: MeshNode; head: MeshIdentity; current: Invite; keep: readonly string[]; ttlS: number }): Promise<Rotation> {
  const fresh = await createInvite({
    bootstrap: o.current.bootstrap,
    relays: o.current.relays,
    ...(o.current.model ? { model: o.current.model } : {}),
    ...(o.current.iceServers ? { iceServers: o.current.iceServers } : {}),
  });
  const invite: Invite = { ...fresh, head: o.head.nostrPubkey };
  const delivered: string[] = [];
  const missed: string[] = [];
  for (const peerId of o.keep) {
    try {
      if (!o.node.isMember(peerId)) throw new Error('not a member');
      const credential = issueCredential(o.head, invite.meshId, { ttlS: o.ttlS, member: peerId });
      const signal = AbortSignal.timeout(TIMEOUT_MS);
      const stream = await o.node.openStream(peerId, REKEY_PROTOCOL, signal);
      const lp = lpStream(stream, { maxDataLength: 16 });
      await lp.write(utf8(encodeInvite({ ...invite, credential })), { signal });
      const ack = fromUtf8((await lp.read({ signal })).subarray());
      await stream.close({ signal }).catch(() => {});
      if (ack !== 'ok') throw new Error(`the member answered ${ack}`);
      delivered.push(peerId);
    } catch {
      missed.push(peerId);
    }
  }
  return { invite, delivered, missed };
}

/**
 * A member: accepts the head's new invite (from a peer `isHead` names, for the same head key) and
 * hands it to `onInvite` (the page joins the new mesh). Returns when the handler is registered.
 */
export async function acceptRekey(o: {
  node: MeshNode;
  isHead: (peerId: string) => boolean;
  headKey?: string;
  onInvite: (invite: Invite) => void;
}): Promise<void> {
  await o.node.handleForMembers(REKEY_PROTOCOL, async (stream, connection) => {
    const signal = AbortSignal.timeout(TIMEOUT_MS);
    const lp = lpStream(stream, { maxDataLength: MAX_TOKEN_BYTES });
    try {
      if (!o.isHead(connection.remotePeer.toString())) throw new Error('only the head rotates the mesh');
      const invite = await decodeInvite(fromUtf8((await lp.read({ signal })).subarray()) ?? '');
      if (!o.headKey || invite.head !== o.headKey) throw new Error('the new invite names another head');
      await lp.write(utf8('ok'), { signal });
      await stream.close({ signal }).catch(() => {});
      o.onInvite(invite);
    } catch (error) {
      await lp.write(utf8('refused'), { signal }).catch(() => {});
      stream.abort(error instanceof Error ? error : new Error(String(error)));
    }
  });
}
