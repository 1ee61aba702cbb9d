// The refused-peer list is bounded: fresh identities cost an attacker nothing, so a flood of them
// must not grow the companion's memory without end. The newest refusals are kept.
import { describe, expect, it } from 'vitest';
import { MAX_REFUSED, MeshNode, type MeshLibp2p } from './mesh-node.ts';

describe('refused peers', () => {
  it('are remembered up to MAX_REFUSED, the oldest forgotten first', async () => {
    const hungUp: string[] = [];
    const libp2p = {
      peerId: { toString: () => 'self' },
      getConnections: () => [],
      hangUp: async (p: unknown) => void hungUp.push(String(p)),
    } as unknown as MeshLibp2p;
    const node = new MeshNode({
      libp2p,
      mesh: {} as never,
      self: () => ({ role: 'client', backend: 'wasm', memoryBudgetBytes: 0, layerTokensPerSecond: 0, models: [] }),
    });
    for (let i = 0; i < MAX_REFUSED + 500; i++) await node.refuse(`peer-${i}`, 'revoked');
    const list = node.refusedList();
    expect(list).toHaveLength(MAX_REFUSED);
    expect(list[0].peerId).toBe('peer-500');
    expect(list.at(-1)?.peerId).toBe(`peer-${MAX_REFUSED + 499}`);
    // Refusing itself is never done.
    await node.refuse('self', 'revoked');
    expect(node.refusedList().some((r) => r.peerId === 'self')).toBe(false);
  });
});
