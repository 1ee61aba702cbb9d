// Peers that join together get one plan that stays. On a 2-core machine where three browsers start
// at once, the head's first round trip to a tab can take hundreds of ms: held to that one
// measurement, the tab left the plan (above the round-trip cap, or as a slow link) and came back a
// round later, 10 s on, moving layers twice for nothing. A link slow on every measurement still
// leaves the plan.
import { expect, it } from 'vitest';
import { CapacityLedger } from '../capacity.ts';
import { fakeMeshNode, pid, serverState } from '../testing/fake-mesh-node.ts';
import { PipelineCoordinator } from './coordinator.ts';

/** Four layers of 100 bytes; budgets of 250 hold two, so any two of the four peers can hold the model. */
const memory = { layerCount: 4, layerBytes: [100, 100, 100, 100], layerExpertBytes: [0, 0, 0, 0], headBytes: 0, tailBytes: 0, sharedBytes: 0 };
const peers = ['A', 'B', 'C', 'D'].map(pid);

function start() {
  const mesh = fakeMeshNode();
  const ledger = new CapacityLedger();
  const coordinator = new PipelineCoordinator({ node: mesh.node, model: { id: 'm', memory }, capacity: ledger, republishMs: 60_000 });
  coordinator.start();
  /** One probe round: the head's round trip to each peer (ms), then the replan a state change brings. */
  const round = (rtt: (peerId: string) => number) => {
    for (const p of peers) ledger.observeRtt(p, rtt(p));
    mesh.member(peers[0], serverState(peers[0], 1));
  };
  return { mesh, coordinator, ledger, round };
}

it.each([
  { ms: 400, as: 'above the round-trip cap' },
  { ms: 80, as: 'a slow link beside the others' },
])('peers joining within a second keep one plan when the first round trip to one of them is a busy moment ($ms ms: $as)', ({ ms }) => {
  const { mesh, coordinator, ledger, round } = start();
  try {
    for (const p of peers.slice(0, 3)) mesh.member(p, serverState(p, 1));
    // The head's probe reaches D while its tab is busy starting, just before D's state arrives.
    for (const p of peers) ledger.observeRtt(p, p === peers[3] ? ms : 3);
    mesh.member(peers[3], serverState(peers[3], 1));
    const first = coordinator.currentPlan()!;
    expect(first.stages.map((s) => s.peerId)).toContain(peers[3]);
    expect(first.excluded).toEqual([]);
    round(() => 3);
    round(() => 4);
    const plan = coordinator.currentPlan()!;
    expect(plan.epoch).toBe(first.epoch);
    expect(plan.stages).toEqual(first.stages);
  } finally {
    coordinator.stop();
  }
});

it('a peer whose link measures slow twice leaves the plan (it claims 5 ms)', () => {
  const { mesh, coordinator, round } = start();
  try {
    for (const p of peers) mesh.member(p, serverState(p, 1));
    round((p) => (p === peers[3] ? 400 : 3));
    round((p) => (p === peers[3] ? 420 : 3));
    const plan = coordinator.currentPlan()!;
    expect(plan.stages.map((s) => s.peerId)).not.toContain(peers[3]);
    expect(plan.excluded).toEqual([{ peerId: peers[3], reason: 'rtt_above_cap' }]);
  } finally {
    coordinator.stop();
  }
});
