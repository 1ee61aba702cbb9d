import { describe, expect, it } from 'vitest';
import type { PeerStateMessage } from '../../protocol/mesh-messages.ts';
import type { LayerPlan } from '../../protocol/mesh-plan.ts';
import type { ModelMemory } from '../layer-memory.ts';
import type { MemberView } from '../net/mesh-node.ts';
import { ModelShares } from './model-shares.ts';

const memory = (layerBytes: number, layerCount = 4): ModelMemory => ({
  layerCount,
  layerBytes: new Array<number>(layerCount).fill(layerBytes),
  layerExpertBytes: new Array<number>(layerCount).fill(0),
  headBytes: 0,
  tailBytes: 0,
  sharedBytes: 0,
});

const member = (peerId: string, budget: number, more: Partial<PeerStateMessage> = {}, linked = true): MemberView => ({
  peerId,
  links: linked ? ['websocket'] : [],
  state: {
    type: 'peer-state',
    protocol: 1,
    peerId,
    seq: 1,
    sentAt: 0,
    role: 'server',
    backend: 'wasm',
    memoryBudgetBytes: budget,
    layerTokensPerSecond: 0,
    rttMs: 1,
    models: [],
    activeSessions: 0,
    ...more,
  },
});

const solo = (model: string, peerId: string): LayerPlan => ({
  model,
  layerCount: 4,
  epoch: 0,
  mode: 'solo',
  stages: [{ peerId, layers: { start: 0, end: 4 }, shard: { kind: 'dense' } }],
  head: peerId,
  tail: peerId,
  excluded: [],
});

describe('ModelShares', () => {
  it('shares unplanned servers out in peer-id order to the model with the least budget for its size', () => {
    const members = [member('p1', 100), member('p2', 100), member('p3', 100), member('p4', 100), member('p5', 100, { role: 'client' })];
    // b is twice a's size: after one peer each, b's share holds less for its size, so it takes the next.
    const shares = new ModelShares(
      () => members,
      [
        { id: 'a', memory: memory(50), lastPlan: () => undefined },
        { id: 'b', memory: memory(100), lastPlan: () => undefined },
      ],
    );
    expect(Object.fromEntries(shares.assign())).toEqual({ p1: 'a', p2: 'b', p3: 'b', p4: 'a' });
  });

  it('keeps the stages of a last plan and the holders of layers with their model, and never gives a model a peer that holds none of its layers', () => {
    const members = [
      member('p1', 1000),
      member('p2', 1000, { models: [{ model: 'b', layers: { start: 0, end: 2 } }] }),
      member('p3', 1000),
      member('p4', 60),
      member('p5', 1000, {}, false),
    ];
    let last: LayerPlan | undefined = solo('b', 'p3');
    const shares = new ModelShares(
      () => members,
      [
        { id: 'a', memory: memory(50), lastPlan: () => undefined },
        { id: 'b', memory: memory(100), lastPlan: () => last },
      ],
    );
    // p3 stays with b (its plan), p2 too (it holds b's layers); p1 and p4 go to a, which holds nothing yet; p5 is not linked.
    expect(Object.fromEntries(shares.assign())).toEqual({ p3: 'b', p2: 'b', p1: 'a', p4: 'a' });
    // p4 cannot hold a layer of b (100 bytes): with a's share larger for its size, p4 is still a's, p1 is b's.
    last = undefined;
    members[1] = member('p2', 1000);
    const planned = [
      { id: 'a', memory: memory(50), lastPlan: () => solo('a', 'p2') },
      { id: 'b', memory: memory(100), lastPlan: () => undefined },
    ];
    expect(Object.fromEntries(new ModelShares(() => members, planned).assign())).toEqual({ p2: 'a', p1: 'b', p3: 'b', p4: 'a' });
    const only = new ModelShares(() => [member('p9', 60)], [{ id: 'b', memory: memory(100), lastPlan: () => undefined }]);
    expect(only.assign().size).toBe(0);
    expect(shares.peersFor('a', [{ peerId: 'p1', role: 'server', memoryBudgetBytes: 1000, layerTokensPerSecond: 0, rttMs: 1 }]).map((p) => p.peerId)).toEqual([
      'p1',
    ]);
  });
});
