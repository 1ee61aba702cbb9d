// A mesh layer for coordinator tests: members, links and states the test sets, and the gossip and
// joins it delivers, without libp2p.
import type { GossipMessage, PeerStateMessage, StageReadyMessage } from '../../protocol/mesh-messages.ts';
import type { MemberView, MeshNode } from '../net/mesh-node.ts';

export const pid = (c: string) => `12D3KooW${c}`.padEnd(52, 'x');

/** A server's gossiped state: 250-byte budget, 100 tokens/s per layer, 5 ms; `layers`: the range it says it holds of model `m`. */
export const serverState = (peerId: string, seq: number, layers?: { start: number; end: number }, budget = 250): PeerStateMessage => ({
  type: 'peer-state',
  protocol: 1,
  peerId,
  seq,
  sentAt: 0,
  role: 'server',
  backend: 'wasm',
  memoryBudgetBytes: budget,
  layerTokensPerSecond: 100,
  rttMs: 5,
  models: layers ? [{ model: 'm', layers, backend: 'wasm' }] : [],
  activeSessions: 0,
});

/** A mesh layer with members the test sets, and gossip and joins it delivers. */
export function fakeMeshNode() {
  const members = new Map<string, MemberView>();
  const listeners = { gossip: new Set<(m: GossipMessage) => void>(), join: new Set<(p: string) => void>(), change: new Set<() => void>() };
  const on =
    <T>(set: Set<T>) =>
    (l: T) => {
      set.add(l);
      return () => set.delete(l);
    };
  const node = {
    selfPeerId: pid('HEAD'),
    memberList: () => [...members.values()].sort((a, b) => (a.peerId < b.peerId ? -1 : 1)),
    addGossipListener: on(listeners.gossip),
    addJoinListener: on(listeners.join),
    addChangeListener: on(listeners.change),
    publish: async () => {},
  } as unknown as MeshNode;
  return {
    node,
    /** Sets a member's links and last state, as gossip and connections would. */
    member(peerId: string, s: PeerStateMessage, links: string[] = ['websocket']) {
      members.set(peerId, { peerId, links: links as MemberView['links'], state: s });
      for (const l of listeners.change) l();
    },
    ready(peerId: string, epoch: number, start: number, end: number) {
      const m: StageReadyMessage = {
        type: 'stage-ready',
        protocol: 1,
        peerId,
        seq: 0,
        sentAt: 0,
        model: 'm',
        planEpoch: epoch,
        layers: { start, end },
        shard: { kind: 'dense' },
      };
      for (const l of listeners.gossip) l(m);
    },
    join(peerId: string) {
      for (const l of listeners.join) l(peerId);
    },
  };
}
