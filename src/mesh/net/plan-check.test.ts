import { describe, expect, it } from 'vitest';
import type { PeerStateMessage } from '../../protocol/mesh-messages.ts';
import type { PlanBasis } from '../../protocol/mesh-plan.ts';
import { planLayers, type PlannerPeer } from '../planner.ts';
import { checkPlan } from './plan-check.ts';

const pid = (name: string) => `12D3KooW${name}`.padEnd(52, 'x');
const memory = { layerCount: 8, layerBytes: new Array(8).fill(100), layerExpertBytes: new Array(8).fill(0), headBytes: 50, tailBytes: 60, sharedBytes: 10 };
const peers: PlannerPeer[] = ['A', 'B', 'C'].map((n, i) => ({
  peerId: pid(n),
  role: 'server',
  memoryBudgetBytes: 450,
  layerTokensPerSecond: [100, 220, 47][i],
  rttMs: 3 + i,
}));
const basis: PlanBasis = { peers, rttCapMs: 250, perLayerExtraBytes: 0, countsHeadTail: false };
const result = planLayers({ id: 'm', ...memory, headBytes: 0, tailBytes: 0 }, peers);
if (!result.ok) throw new Error(result.message);
const plan = result.plan;
/** What B gossiped about itself (a measured speed and round trip, before quantizing). */
const said = (extra: Partial<PeerStateMessage> = {}): PeerStateMessage => ({
  type: 'peer-state',
  protocol: 1,
  peerId: pid('B'),
  seq: 1,
  sentAt: 0,
  role: 'server',
  backend: 'wasm',
  memoryBudgetBytes: 450,
  layerTokensPerSecond: 215,
  rttMs: 4.2,
  models: [],
  activeSessions: 0,
  ...extra,
});

describe("a server checks the head's plan before loading its share", () => {
  it("accepts the plan its basis gives, with this peer's own numbers as gossiped (up to quantizing)", () => {
    expect(plan.stages).toHaveLength(3);
    expect(checkPlan(plan, basis, pid('B'), [said()], memory)).toEqual({ ok: true });
    // Any of its recent states will do: the head may have planned from the one before the last.
    expect(checkPlan(plan, basis, pid('B'), [said(), said({ seq: 2, memoryBudgetBytes: 900 })], memory)).toEqual({ ok: true });
  });

  it('refuses a plan that is not what the planner computes from its basis', () => {
    const moved = {
      ...plan,
      stages: plan.stages.map((s, i) => ({ ...s, layers: i === 0 ? { start: 0, end: 1 } : i === 1 ? { start: 1, end: s.layers.end } : s.layers })),
    };
    expect(checkPlan(moved, basis, pid('B'), [said()], memory)).toMatchObject({ ok: false, reason: expect.stringMatching(/not what the planner computes/) });
    expect(checkPlan({ ...plan, epoch: plan.epoch + 1 }, basis, pid('B'), [said()], memory)).toMatchObject({ ok: false });
    // Another model file (more layers) than the head planned.
    expect(
      checkPlan(plan, basis, pid('B'), [said()], { ...memory, layerCount: 9, layerBytes: new Array(9).fill(100), layerExpertBytes: new Array(9).fill(0) }),
    ).toMatchObject({ ok: false });
  });

  it('refuses a plan from a head with another view of this peer, or none', () => {
    expect(checkPlan(plan, basis, pid('B'), [said({ memoryBudgetBytes: 300 })], memory)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/budget 450 B.*differs.*budget 300 B/),
    });
    expect(checkPlan(plan, basis, pid('B'), [said({ rttMs: 40 })], memory)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/round trip 4 ms.*round trip 40 ms/),
    });
    // A head that credits this peer with more speed than it said would overload it.
    expect(checkPlan(plan, basis, pid('B'), [said({ layerTokensPerSecond: 100 })], memory)).toMatchObject({ ok: false });
    // Its link's throughput too: gossiped but missing from the basis, or another step of it.
    expect(checkPlan(plan, basis, pid('B'), [said({ linkBytesPerSecond: 5e6 })], memory)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/link 0 B\/s.*differs.*link 4700000 B\/s/),
    });
    const measured: PlanBasis = { ...basis, peers: peers.map((p) => (p.peerId === pid('B') ? { ...p, linkBytesPerSecond: 4.7e6 } : p)) };
    const planned = planLayers({ id: 'm', ...memory, headBytes: 0, tailBytes: 0 }, measured.peers);
    if (!planned.ok) throw new Error(planned.message);
    expect(checkPlan(planned.plan, measured, pid('B'), [said({ linkBytesPerSecond: 4.9e6 })], memory)).toEqual({ ok: true });
    expect(checkPlan(plan, basis, pid('D'), [said({ peerId: pid('D') })], memory)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/without this peer/),
    });
    expect(checkPlan(plan, undefined, pid('B'), [said()], memory)).toMatchObject({ ok: false, reason: expect.stringMatching(/without its basis/) });
  });

  it('accepts a head that held this peer below its claim (capacity.ts: to what the head observed)', () => {
    // B said it is faster, lends more and is closer than the head's basis has it: held down, not refused.
    const bragged = said({ layerTokensPerSecond: 400, memoryBudgetBytes: 2 ** 50, rttMs: 0 });
    expect(checkPlan(plan, basis, pid('B'), [bragged], memory)).toEqual({ ok: true });
  });
});
