// What a member's mesh node takes from its invite (PeerNode wires it in one place): the credential
// it shows after its proof; when the invite names its head's key, the check of others against the
// head's deny list, which it then follows (revocation.ts); and the head's new invite when the head
// rotates the secret (rekey.ts).
import type { Invite } from '../invite.ts';
import type { MeshNode } from './mesh-node.ts';
import { acceptRekey } from './rekey.ts';
import { credentialAdmission, DenyList, followRevocations } from './revocation.ts';

export function memberAccess(invite: Pick<Invite, 'head' | 'credential'>, meshId: string) {
  const deny = new DenyList();
  const head = invite.head;
  return {
    nodeOptions: {
      ...(invite.credential !== undefined ? { credential: invite.credential } : {}),
      ...(head ? { admission: credentialAdmission({ meshId, head, deny, required: false }) } : {}),
    },
    /** Follows the head's deny list and, given `onRekey`, takes the head's new invite. */
    async attach(node: MeshNode, isHead: (peerId: string) => boolean, onRekey?: (invite: Invite) => void): Promise<void> {
      if (head) followRevocations(node, isHead, deny);
      if (onRekey) await acceptRekey({ node, isHead, ...(head ? { headKey: head } : {}), onInvite: onRekey });
    },
  };
}
