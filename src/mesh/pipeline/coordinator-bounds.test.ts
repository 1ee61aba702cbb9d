// A mesh of 250 linked server peers (strangers flooding an open mesh): the head's plan message,
// basis included, stays under the gossip size limit (over it, encoding threw inside a `void`
// publish and ended the companion), a stage of the plan still checks it from its basis, and the
// stages already planned keep their places however many join after them.
import { describe, expect, it } from 'vitest';
import { MAX_GOSSIP_BYTES, type GossipMessage, type PeerStateMessage } from '../../protocol/mesh-messages.ts';
import { encodeGossip } from '../gossip-messages.ts';
import type { MemberView, MeshNode } from '../net/mesh-node.ts';
import { checkPlan } from '../net/plan-check.ts';
import { serverState } from '../testing/fake-mesh-node.ts';
import { MAX_PLANNED_PEERS, PipelineCoordinator } from './coordinator.ts';

const pid = (i: number) => `12D3KooW${i.toString(36).padStart(4, '0')}`.padEnd(52, 'x');
const memory = { layerCount: 8, layerBytes: new Array(8).fill(100), layerExpertBytes: new Array(8).fill(0), headBytes: 50, tailBytes: 60, sharedBytes: 10 };
/** A server's state with a 450-byte budget and no layers held. */
const state = (peerId: string, seq = 1): PeerStateMessage => serverState(peerId, seq, undefined, 450);

function fakeNode(members: MemberView[]) {
  const published: GossipMessage[] = [];
  const changes = new Set<() => void>();
  const node = {
    selfPeerId: pid(99_999),
    memberList: () => members,
    addGossipListener: () => () => {},
    addJoinListener: () => () => {},
    addChangeListener: (l: () => void) => {
      changes.add(l);
      return () => changes.delete(l);
    },
    async publish(body: Record<string, unknown>) {
      const message = { ...body, protocol: 1, peerId: node.selfPeerId, seq: published.length + 1, sentAt: Date.now() } as GossipMessage;
      published.push(message);
      encodeGossip(message); // throws over MAX_GOSSIP_BYTES, as the real node's encoding does
    },
  };
  return { node: node as unknown as MeshNode, published, changed: () => changes.forEach((l) => l()) };
}

describe('the plan basis is bounded', () => {
  it('250 linked servers: the plan gossips under the size limit, checks from its basis, and keeps its planned stages', async () => {
    const members: MemberView[] = [0, 1, 2].map((i) => ({ peerId: pid(1000 + i), links: ['websocket'], state: state(pid(1000 + i)) }));
    const { node, published, changed } = fakeNode(members);
    const coordinator = new PipelineCoordinator({ node, model: { id: 'm', memory }, republishMs: 60_000 });
    coordinator.start();
    try {
      const first = coordinator.currentPlan()!;
      expect(first.stages.map((s) => s.peerId).sort()).toEqual(members.map((m) => m.peerId));
      // Strangers with lower peer ids (they sort first) and the same claims.
      for (let i = 0; i < 250; i++) members.push({ peerId: pid(i), links: ['websocket'], state: state(pid(i)) });
      members.sort((a, b) => (a.peerId < b.peerId ? -1 : 1));
      changed();
      await new Promise((r) => setTimeout(r, 0));
      const basis = coordinator.currentBasis()!;
      expect(basis.peers.length).toBeLessThanOrEqual(MAX_PLANNED_PEERS);
      const last = published[published.length - 1];
      expect(last.type).toBe('layer-plan');
      expect(encodeGossip(last).length).toBeLessThan(MAX_GOSSIP_BYTES);
      const plan = coordinator.currentPlan()!;
      for (const m of members.slice(-3)) expect(plan.stages.some((s) => s.peerId === m.peerId)).toBe(true);
      const stage = plan.stages[0].peerId;
      expect(checkPlan(plan, basis, stage, [state(stage)], memory)).toEqual({ ok: true });
    } finally {
      coordinator.stop();
    }
  });
});
