// The deny list as members follow it: only the head's list counts (a stranger's, however well
// formed, refuses nobody), each list replaces the last, and a revoked credential finds the peers
// that showed it.
import { describe, expect, it } from 'vitest';
import type { GossipMessage, RevocationsMessage } from '../../protocol/mesh-messages.ts';
import { issueCredential } from '../credentials.ts';
import { createIdentity } from '../identity.ts';
import type { MeshNode } from './mesh-node.ts';
import { credentialAdmission, DenyList, followRevocations } from './revocation.ts';

const HEAD = `12D3KooW${'h'.repeat(44)}`;
const message = (from: string, o: Partial<RevocationsMessage>): RevocationsMessage => ({
  type: 'revocations',
  protocol: 1,
  peerId: from,
  seq: 1,
  sentAt: 0,
  credentials: [],
  peers: [],
  ...o,
});

function fakeNode() {
  const listeners: Array<(m: GossipMessage) => void> = [];
  const refused: string[] = [];
  const node = {
    addGossipListener: (l: (m: GossipMessage) => void) => {
      listeners.push(l);
      return () => {};
    },
    refuse: async (peerId: string) => void refused.push(peerId),
  } as unknown as MeshNode;
  return { node, refused, hear: (m: GossipMessage) => listeners.forEach((l) => l(m)) };
}

describe('following the deny list', () => {
  it('takes it from the head only, and refuses the holders of revoked credentials', () => {
    const deny = new DenyList();
    const { node, refused, hear } = fakeNode();
    followRevocations(node, (p) => p === HEAD, deny);
    deny.noteShown('a'.repeat(32), 'peer-with-a', Number.MAX_SAFE_INTEGER);
    hear(message(`12D3KooW${'s'.repeat(44)}`, { peers: ['victim'], credentials: ['a'.repeat(32)] }));
    expect(refused).toEqual([]);
    expect(deny.isRevoked('a'.repeat(32), 'victim')).toBe(false);
    hear(message(HEAD, { credentials: ['a'.repeat(32)], peers: ['other'] }));
    expect(refused.sort()).toEqual(['other', 'peer-with-a']);
    // The next list replaces it: un-revoked ids are let in again.
    hear(message(HEAD, { credentials: [], peers: [] }));
    expect(deny.isRevoked('a'.repeat(32), 'x')).toBe(false);
  });

  it('a member is never stricter than its head: only revocations refuse, expiry and junk are the head’s to judge', async () => {
    const head = await createIdentity();
    const meshId = 'ab'.repeat(32);
    const deny = new DenyList();
    const member = credentialAdmission({ meshId, head: head.nostrPubkey, deny, required: false });
    const strict = credentialAdmission({ meshId, head: head.nostrPubkey, deny, required: true });
    const expired = issueCredential(head, meshId, { ttlS: 1, now: 1_000 });
    expect(member.check(expired, 'p1')).toBeUndefined();
    expect(strict.check(expired, 'p1')).toMatch(/expired/);
    expect(member.check('junk', 'p2')).toBeUndefined();
    expect(member.check(undefined, 'p3')).toBeUndefined();
    expect(strict.check(undefined, 'p3')).toMatch(/no member credential/);
    const id = (JSON.parse(expired.content) as { id: string }).id;
    deny.add({ credentials: [id], peers: ['p4'] });
    expect(member.check(expired, 'p5')).toMatch(/revoked/);
    expect(member.check(undefined, 'p4')).toMatch(/revoked/);
  });
});
