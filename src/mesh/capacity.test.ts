// Capacity measured, not believed: claims of 2^50 bytes, 0 ms and absurd speeds are bounded and held
// to what the head observed, so a liar cannot take the plan over from honest peers; honest claims
// within the margins pass unchanged (so each server's recomputation of the plan still agrees).
import { describe, expect, it } from 'vitest';
import { CapacityLedger, MAX_BUDGET_BYTES, UNTIMED_SPEED_FACTOR } from './capacity.ts';
import { planLayers, quantizeSpeed, type PlannerPeer } from './planner.ts';

const pid = (name: string) => `12D3KooW${name}`.padEnd(52, 'x');
const memory = { layerCount: 12, layerBytes: new Array(12).fill(100), layerExpertBytes: new Array(12).fill(0), headBytes: 0, tailBytes: 0, sharedBytes: 10 };
const honest = (name: string): PlannerPeer => ({ peerId: pid(name), role: 'server', memoryBudgetBytes: 700, layerTokensPerSecond: 100, rttMs: 5 });
const liar: PlannerPeer = { peerId: pid('L'), role: 'server', memoryBudgetBytes: 2 ** 50, layerTokensPerSecond: 1e9, rttMs: 0 };

const layersOf = (peers: PlannerPeer[], peerId: string) => {
  const result = planLayers({ id: 'm', ...memory }, peers, undefined, { rttCapMs: 250 });
  if (!result.ok) throw new Error(result.message);
  const stage = result.plan.stages.find((s) => s.peerId === peerId);
  return stage ? stage.layers.end - stage.layers.start : 0;
};

describe('capacity claims', () => {
  it('believed as gossiped, a liar takes the whole plan (what this module prevents)', () => {
    expect(layersOf([honest('A'), honest('B'), liar], liar.peerId)).toBe(12);
  });

  it('bounded before any observation: budget and speed to the median claims (a stranger outranks nobody)', () => {
    const ledger = new CapacityLedger();
    const bounded = ledger.bound([honest('A'), honest('B'), liar]);
    const l = bounded[2];
    expect(l.memoryBudgetBytes).toBe(700);
    // Quantized the planner's way (E12 steps), as every recomputation reads it.
    expect(l.layerTokensPerSecond).toBe(quantizeSpeed(100 * UNTIMED_SPEED_FACTOR));
    // Honest peers pass as they are (the same objects: their plan check is unchanged).
    expect(bounded[0]).toEqual(honest('A'));
    expect(ledger.held(liar.peerId).map((h) => h.field)).toEqual(['memoryBudgetBytes', 'layerTokensPerSecond']);
    // No more than an honest peer's share: never the plan.
    expect(layersOf(bounded, liar.peerId)).toBeLessThanOrEqual(Math.min(layersOf(bounded, pid('A')), layersOf(bounded, pid('B'))));
  });

  it('held to what the head observed: its timing of the layers and its own round trip', () => {
    const ledger = new CapacityLedger();
    ledger.observeSpeed(liar.peerId, 95, 400); // it ran a 4-layer stage
    // Its round trip measured twice (one measurement alone holds nothing: it may be a busy moment).
    ledger.observeRtt(liar.peerId, 40);
    ledger.observeRtt(liar.peerId, 41);
    for (const name of ['A', 'B']) {
      ledger.observeSpeed(pid(name), 90); // honest peers timed a little under their claim: within the margin
      ledger.observeRtt(pid(name), 6);
      ledger.observeRtt(pid(name), 6);
    }
    const bounded = ledger.bound([honest('A'), honest('B'), liar]);
    expect(bounded[0]).toEqual(honest('A'));
    expect(bounded[1]).toEqual(honest('B'));
    // Its budget: twice the stage it was seen running; its speed and round trip: what the head saw.
    expect(bounded[2]).toMatchObject({ memoryBudgetBytes: 800, layerTokensPerSecond: quantizeSpeed(95), rttMs: 40 });
    expect(ledger.held(liar.peerId).find((h) => h.field === 'rttMs')?.why).toMatch(/shorter than the head measured/);
    // No more than an honest peer's share.
    const mine = layersOf(bounded, liar.peerId);
    expect(mine).toBeLessThanOrEqual(Math.max(layersOf(bounded, pid('A')), layersOf(bounded, pid('B'))));
  });

  it('a round trip claimed just under the measured one is noise, not a lie', () => {
    const ledger = new CapacityLedger();
    ledger.observeRtt(pid('A'), 6.5);
    ledger.observeRtt(pid('A'), 6.5);
    expect(ledger.bound([honest('A')])[0].rttMs).toBe(5);
    // One slow measurement among fast ones is a busy moment; measured slow again, the link is slow.
    ledger.observeRtt(pid('A'), 30);
    expect(ledger.bound([honest('A')])[0].rttMs).toBe(5);
    ledger.observeRtt(pid('A'), 31);
    expect(ledger.bound([honest('A')])[0].rttMs).toBe(30);
    // Forgotten on leaving: a returning peer is bounded afresh.
    ledger.forget(pid('A'));
    expect(ledger.bound([honest('A')])[0].rttMs).toBe(5);
  });

  it("a peer's first round trip alone holds nothing (measured while three browsers start on two cores)", () => {
    const ledger = new CapacityLedger();
    ledger.observeRtt(pid('A'), 400);
    expect(ledger.observedRtt(pid('A'))).toBeUndefined();
    expect(ledger.bound([honest('A')])[0].rttMs).toBe(5);
    ledger.observeRtt(pid('A'), 4);
    ledger.observeRtt(pid('A'), 5);
    expect(ledger.bound([honest('A')])[0].rttMs).toBe(5);
    expect(ledger.observedRtt(pid('A'))).toBe(5);
  });

  it('a peer that really has the memory earns it a doubling at a time', () => {
    const ledger = new CapacityLedger();
    const big: PlannerPeer = { ...honest('C'), memoryBudgetBytes: 10_000 };
    expect(ledger.bound([honest('A'), honest('B'), big])[2].memoryBudgetBytes).toBe(700);
    ledger.observeSpeed(big.peerId, 100, 600);
    expect(ledger.bound([honest('A'), honest('B'), big])[2].memoryBudgetBytes).toBe(1200);
    ledger.observeSpeed(big.peerId, 100, 1200);
    ledger.observeSpeed(big.peerId, 100, 5000);
    expect(ledger.bound([honest('A'), honest('B'), big])[2].memoryBudgetBytes).toBe(10_000);
    // Everyone claiming 2^50: the physical ceiling still holds.
    const all = ['A', 'B', 'C'].map((n) => ({ ...honest(n), memoryBudgetBytes: 2 ** 50 }));
    expect(ledger.bound(all).map((p) => p.memoryBudgetBytes)).toEqual([MAX_BUDGET_BYTES, MAX_BUDGET_BYTES, MAX_BUDGET_BYTES]);
  });

  it('held budgets that cannot hold the model at all are released (peers of unequal memory, none proven)', () => {
    // 3, 3 and 6 layers' worth: held to the median (3 layers each) they hold 9 of the 12 layers, so
    // the coordinator plans on the claims (budgets: false).
    const peers = [
      { ...honest('A'), memoryBudgetBytes: 3 * 100 + 10 },
      { ...honest('B'), memoryBudgetBytes: 3 * 100 + 10 },
      { ...honest('C'), memoryBudgetBytes: 6 * 100 + 10 },
    ];
    const ledger = new CapacityLedger();
    const held = ledger.bound(peers);
    expect(held[2].memoryBudgetBytes).toBe(3 * 100 + 10);
    expect(planLayers({ id: 'm', ...memory }, held, undefined, { rttCapMs: 250 }).ok).toBe(false);
    const claimed = ledger.bound(peers, { budgets: false });
    expect(claimed.map((p) => p.memoryBudgetBytes)).toEqual(peers.map((p) => p.memoryBudgetBytes));
    expect(layersOf(claimed, pid('C'))).toBe(6);
  });
});
