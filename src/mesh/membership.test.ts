import { describe, expect, it } from 'vitest';
import { newMeshSecret, openMesh } from './mesh-keys.ts';
import { createChallenge, proveMembership, verifyMembership } from './membership.ts';

const ALICE = '12D3KooWNMr2dcVqZnAvKCSDKY1p94TnBRNcdcNQnRLXhXqyX87n';
const BOB = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo';
const CAROL = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq';

describe('membership proof', () => {
  it('convinces only for the right secret, challenge and pair of peers', async () => {
    const secret = newMeshSecret();
    const mesh = await openMesh({ visibility: 'private', secret });
    const again = await openMesh({ visibility: 'private', secret });
    const outsider = await openMesh({ visibility: 'private', secret: newMeshSecret() });
    if (mesh.visibility !== 'private' || again.visibility !== 'private' || outsider.visibility !== 'private') throw new Error('unreachable');
    const challenge = createChallenge();
    const context = { proverPeerId: ALICE, verifierPeerId: BOB, challenge };
    const proof = await proveMembership(mesh, context);
    expect(await verifyMembership(again, context, proof)).toBe(true);
    expect(await verifyMembership(outsider, context, proof)).toBe(false);
    expect(await verifyMembership(again, context, await proveMembership(outsider, context))).toBe(false);
    expect(await verifyMembership(again, { ...context, challenge: createChallenge() }, proof)).toBe(false);
    // Relayed to Carol, or replayed with the roles swapped: rejected.
    expect(await verifyMembership(again, { ...context, verifierPeerId: CAROL }, proof)).toBe(false);
    expect(await verifyMembership(again, { proverPeerId: BOB, verifierPeerId: ALICE, challenge }, proof)).toBe(false);
    for (const junk of [undefined, 'x', new Uint8Array(31), new Uint8Array(32), [...proof]]) {
      expect(await verifyMembership(again, context, junk)).toBe(false);
    }
  });
});
