import { describe, expect, it } from 'vitest';
import { validateLayerPlan, type LayerPlan } from '../protocol/mesh-plan.ts';
import { DEFAULT_RTT_CAP_MS, planLayers, quantizeRtt, quantizeSpeed, RTT_HYSTERESIS, shares, type PlannerModel, type PlannerPeer } from './planner.ts';

/** Plausible, distinct base58 peer ids that sort as their letter does. */
const pid = (name: string) => `12D3KooW${name}`.padEnd(52, 'x');
const model = (layers = 12, layerBytes = 100): PlannerModel => ({
  id: 'test-model',
  layerCount: layers,
  layerBytes: new Array(layers).fill(layerBytes),
  layerExpertBytes: new Array(layers).fill(0),
  headBytes: 50,
  tailBytes: 60,
  sharedBytes: 10,
});
const peer = (name: string, budget: number, speed = 100, extra: Partial<PlannerPeer> = {}): PlannerPeer => ({
  peerId: pid(name),
  role: 'server',
  memoryBudgetBytes: budget,
  layerTokensPerSecond: speed,
  rttMs: 5,
  ...extra,
});

function plan(m: PlannerModel, peers: PlannerPeer[], previous?: LayerPlan): LayerPlan {
  const result = planLayers(m, peers, previous);
  if (!result.ok) throw new Error(result.message);
  const valid = validateLayerPlan(JSON.parse(JSON.stringify(result.plan)));
  expect(valid.ok, valid.ok ? '' : valid.reason).toBe(true);
  return result.plan;
}
const ranges = (p: LayerPlan) => Object.fromEntries(p.stages.map((s) => [s.peerId, [s.layers.start, s.layers.end]]));
/** Peers present in both plans whose range differs (the joiner or leaver not counted). */
function changed(before: LayerPlan, after: LayerPlan): string[] {
  const a = ranges(before);
  const b = ranges(after);
  return Object.keys(b).filter((id) => a[id] && (a[id][0] !== b[id][0] || a[id][1] !== b[id][1]));
}

describe('planner: solo and exclusions', () => {
  it('runs solo on one peer that holds the whole model, the fastest of those that can', () => {
    const whole = 12 * 100 + 50 + 60 + 10;
    const p = plan(model(), [peer('B', whole, 50), peer('C', whole, 80), peer('D', whole - 1, 500)]);
    expect(p.mode).toBe('solo');
    expect(p.stages).toEqual([{ peerId: pid('C'), layers: { start: 0, end: 12 }, shard: { kind: 'dense' } }]);
    expect(p.head).toBe(pid('C'));
    expect(p.tail).toBe(pid('C'));
    // A faster peer joining does not move a working solo plan.
    const again = plan(model(), [peer('B', whole, 50), peer('C', whole, 80), peer('A', whole, 900)], p);
    expect(again.stages).toEqual(p.stages);
    expect(again.epoch).toBe(p.epoch);
  });

  it('leaves out clients, peers above the round-trip cap and peers that cannot hold one layer', () => {
    const peers = [peer('B', 700), peer('C', 700), peer('D', 10_000, 100, { role: 'client' }), peer('E', 10_000, 100, { rttMs: 900 }), peer('F', 105)];
    const p = plan(model(), peers);
    expect(p.stages.map((s) => s.peerId)).toEqual([pid('B'), pid('C')]);
    expect(p.excluded).toEqual([
      { peerId: pid('D'), reason: 'client_role' },
      { peerId: pid('E'), reason: 'rtt_above_cap' },
      { peerId: pid('F'), reason: 'below_one_layer' },
    ]);
    const none = planLayers(model(), [peers[2]]);
    expect(none).toMatchObject({ ok: false, code: 'no_servers' });
    expect(planLayers(model(), [peer('B', 400), peer('C', 400)])).toMatchObject({ ok: false, code: 'insufficient_memory' });
  });
});

describe('planner: splits', () => {
  it('gives contiguous ranges in proportion to speed, head first and tail last', () => {
    const p = plan(model(), [peer('C', 1000, 100), peer('A', 1000, 100), peer('B', 1000, 200)]);
    expect(p.mode).toBe('pipeline');
    expect(ranges(p)).toEqual({ [pid('A')]: [0, 3], [pid('B')]: [3, 9], [pid('C')]: [9, 12] });
    expect(p.head).toBe(pid('A'));
    expect(p.tail).toBe(pid('C'));
  });

  it('caps a share at the budget and gives the rest to the others', () => {
    // A is very fast but holds only 2 layers as head (50 + 10 + 2·100 ≤ 270).
    const p = plan(model(), [peer('A', 270, 10_000), peer('B', 1000, 100), peer('C', 1000, 100)]);
    expect(ranges(p)).toEqual({ [pid('A')]: [0, 2], [pid('B')]: [2, 7], [pid('C')]: [7, 12] });
  });

  it('puts the head and tail where the embedding and output fit', () => {
    // A can hold one layer, but not one layer plus the token embedding.
    const p = plan(model(4), [peer('A', 115), peer('B', 400), peer('C', 400)]);
    expect(p.head).not.toBe(pid('A'));
    expect(p.tail).not.toBe(pid('A'));
    expect(ranges(p)[pid('A')]).toBeDefined();
  });

  it('weighs unmeasured peers at the median speed', () => {
    const p = plan(model(), [peer('A', 1000, 0), peer('B', 1000, 100), peer('C', 1000, 100)]);
    expect(ranges(p)).toEqual({ [pid('A')]: [0, 4], [pid('B')]: [4, 8], [pid('C')]: [8, 12] });
  });

  it('is the same plan whatever order the peer table is in', () => {
    const peers = [peer('A', 500, 37), peer('B', 800, 91), peer('C', 300, 55), peer('D', 650, 12), peer('E', 900, 70)];
    const first = plan(model(20), peers);
    for (let round = 0; round < 10; round++) {
      const shuffled = [...peers].sort(() => Math.random() - 0.5);
      expect(plan(model(20), shuffled)).toEqual(first);
    }
  });

  it('rounds shares to the exact total within caps', () => {
    expect(shares(10, [1, 1, 1], [10, 10, 10])).toEqual([4, 3, 3]);
    expect(shares(7, [5, 1, 1], [2, 10, 10])).toEqual([2, 3, 2]);
    expect(shares(7, [0, 0], [3, 3])).toBeUndefined();
    expect(shares(6, [0, 0], [3, 3])).toEqual([3, 3]);
  });
});

describe('planner: replanning moves as little as possible', () => {
  const four = () => [peer('A', 1000), peer('B', 1000), peer('C', 1000), peer('D', 1000)];

  it('a middle peer leaving changes only its neighbours; an end peer, only its one neighbour', () => {
    const before = plan(model(), four());
    expect(ranges(before)).toEqual({ [pid('A')]: [0, 3], [pid('B')]: [3, 6], [pid('C')]: [6, 9], [pid('D')]: [9, 12] });
    const noB = plan(
      model(),
      four().filter((p) => p.peerId !== pid('B')),
      before,
    );
    expect(changed(before, noB).sort()).toEqual([pid('A'), pid('C')]);
    expect(noB.epoch).toBe(before.epoch + 1);
    const noA = plan(
      model(),
      four().filter((p) => p.peerId !== pid('A')),
      before,
    );
    expect(changed(before, noA)).toEqual([pid('B')]);
    expect(noA.head).toBe(pid('B'));
    const noD = plan(
      model(),
      four().filter((p) => p.peerId !== pid('D')),
      before,
    );
    expect(changed(before, noD)).toEqual([pid('C')]);
    expect(noD.tail).toBe(pid('C'));
  });

  it('a joiner takes a slice from one stage only', () => {
    const before = plan(model(), four().slice(0, 3));
    const after = plan(model(), four(), before);
    expect(changed(before, after)).toHaveLength(1);
    expect(ranges(after)[pid('D')]).toBeDefined();
    expect(after.tail).toBe(before.tail);
    // A fresh plan of the same peers would have moved every range.
    const fresh = plan(model(), four());
    expect(changed(before, fresh).length).toBeGreaterThan(1);
  });

  it('keeps the plan and its epoch when nothing changed', () => {
    const before = plan(model(), four());
    const same = plan(model(), [...four()].reverse(), before);
    expect(same).toEqual(before);
  });

  it('on random meshes, a leave changes only the neighbours (or replans afresh when they are full) and a join one range', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const letters = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
    let incrementalLeaves = 0;
    let leaves = 0;
    let joins = 0;
    for (let trial = 0; trial < 200; trial++) {
      const layers = 8 + Math.floor(rand() * 40);
      const m = model(layers);
      const count = 2 + Math.floor(rand() * 6);
      const budget = () => 120 + Math.floor(rand() * (layers - 1) * 100);
      const peers = Array.from({ length: count }, (_, i) => peer(letters[i], budget(), 1 + Math.floor(rand() * 500)));
      const before = planLayers(m, peers);
      if (!before.ok || before.plan.mode === 'solo') continue;
      const stagePeers = before.plan.stages.map((s) => s.peerId);
      const i = Math.floor(rand() * stagePeers.length);
      const rest = peers.filter((p) => p.peerId !== stagePeers[i]);
      const left = planLayers(m, rest, before.plan);
      if (left.ok && left.plan.mode === 'pipeline') {
        leaves++;
        expect(validateLayerPlan(left.plan).ok).toBe(true);
        const moved = changed(before.plan, left.plan);
        const neighbours = [stagePeers[i - 1], stagePeers[i + 1]];
        if (moved.every((id) => neighbours.includes(id))) incrementalLeaves++;
        else expect(left.plan.stages).toEqual((planLayers(m, rest) as { plan: LayerPlan }).plan.stages);
      }
      const joined = planLayers(m, [...peers, peer('Z', budget(), 1 + Math.floor(rand() * 500))], before.plan);
      if (joined.ok && joined.plan.mode === 'pipeline') {
        joins++;
        expect(validateLayerPlan(joined.plan).ok).toBe(true);
        expect(changed(before.plan, joined.plan).length).toBeLessThanOrEqual(1);
      }
    }
    expect(leaves).toBeGreaterThan(50);
    expect(joins).toBeGreaterThan(50);
    expect(incrementalLeaves / leaves).toBeGreaterThan(0.5);
  });
});

describe('planner: measured inputs with jitter', () => {
  let seed = 99;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  /** x off by up to ±fraction. */
  const jitter = (x: number, fraction: number) => x * (1 + (rand() * 2 - 1) * fraction);

  it('quantizes speeds to E12 steps and round trips to whole milliseconds, exactly and alike', () => {
    expect([100, 104, 109, 111, 200, 0.0123, 4.7e6].map(quantizeSpeed)).toEqual([100, 100, 100, 120, 220, 0.012, 4.7e6]);
    expect([0, -3, NaN, Infinity].map(quantizeSpeed)).toEqual([0, 0, 0, 0]);
    expect([0.04, 0.26, 3.4, 3.6, 249.5].map(quantizeRtt)).toEqual([0, 0.3, 3, 4, 250]);
    expect([-1, NaN, Infinity].map(quantizeRtt)).toEqual([Infinity, Infinity, Infinity]);
    // Idempotent: a peer publishes quantized numbers and the planner quantizes them again.
    for (let i = 0; i < 500; i++) {
      const x = 10 ** (rand() * 12 - 4);
      expect(quantizeSpeed(quantizeSpeed(x))).toBe(quantizeSpeed(x));
      expect(quantizeSpeed(x) / x).toBeGreaterThan(0.89);
      expect(quantizeSpeed(x) / x).toBeLessThan(1.12);
    }
  });

  it('gives one fresh plan for speeds that jitter within their step, whatever the order', () => {
    const base = [peer('A', 900, 47), peer('B', 900, 100), peer('C', 900, 220), peer('D', 900, 68)];
    const first = plan(model(24), base);
    for (let round = 0; round < 50; round++) {
      // ±4% stays within an E12 step around its centre (the steps are about ±10% wide).
      const noisy = base.map((p) => ({ ...p, layerTokensPerSecond: jitter(p.layerTokensPerSecond, 0.04), rttMs: jitter(20, 0.4) })).sort(() => rand() - 0.5);
      expect(plan(model(24), noisy)).toEqual(first);
    }
  });

  it('keeps a plan (stages and epoch) through any jitter of speeds and round trips below the hysteresis', () => {
    const base = [peer('A', 900, 50), peer('B', 900, 100), peer('C', 900, 300)];
    let current = plan(
      model(24),
      base.map((p) => ({ ...p, rttMs: DEFAULT_RTT_CAP_MS - 10 })),
    );
    const first = current;
    for (let round = 0; round < 100; round++) {
      // Speeds off by up to ±40%, round trips jittering across the cap (but below cap × hysteresis).
      const noisy = base.map((p) => ({ ...p, layerTokensPerSecond: jitter(p.layerTokensPerSecond, 0.4), rttMs: jitter(DEFAULT_RTT_CAP_MS, 0.3) }));
      current = plan(model(24), noisy, current);
      expect(current.stages).toEqual(first.stages);
      expect(current.epoch).toBe(first.epoch);
    }
  });

  it('leaves out a newcomer above the cap but keeps a planned peer until it passes the cap by half again', () => {
    const cap = DEFAULT_RTT_CAP_MS;
    const before = plan(model(), [peer('A', 1000, 100, { rttMs: 20 }), peer('C', 1000, 100, { rttMs: 20 })]);
    // B was never planned: above the cap it stays out.
    const withB = plan(model(), [peer('A', 1000, 100, { rttMs: 20 }), peer('B', 1000, 100, { rttMs: cap * 1.2 }), peer('C', 1000, 100, { rttMs: 30 })], before);
    expect(withB.stages).toEqual(before.stages);
    expect(withB.excluded).toEqual([{ peerId: pid('B'), reason: 'rtt_above_cap' }]);
    // C, planned, slows to 1.2 × cap: kept; past cap × hysteresis: left out, its layers to A (whose budget now holds them).
    const slow = plan(model(), [peer('A', 1000, 100, { rttMs: 20 }), peer('C', 1000, 100, { rttMs: cap * 1.2 })], before);
    expect(slow.stages).toEqual(before.stages);
    const gone = planLayers(model(), [peer('A', 2000, 100, { rttMs: 20 }), peer('C', 1000, 100, { rttMs: cap * RTT_HYSTERESIS + 1 })], before);
    expect(gone).toMatchObject({ ok: true, plan: { mode: 'solo', head: pid('A'), excluded: [{ peerId: pid('C'), reason: 'rtt_above_cap' }] } });
    // Unknown (not finite) round trips never take part.
    expect(planLayers(model(), [peer('A', 5000, 100, { rttMs: Infinity })])).toMatchObject({ ok: false, code: 'no_servers' });
  });
});

describe('planner: measured links', () => {
  const whole = 12 * 100 + 50 + 60 + 10;
  // A native peer on QUIC (2 ms, 50 MB/s) and a tab on a relayed link (60 ms, 200 kB/s); the tab sorts first by id.
  const quic = { rttMs: 2, linkBytesPerSecond: 50e6 };
  const relayed = { rttMs: 60, linkBytesPerSecond: 200e3 };

  it('runs solo on the native peer on QUIC rather than the tab on a relayed link, and on the tab when the numbers flip', () => {
    const native = plan(model(), [peer('A', whole, 100, relayed), peer('N', whole, 100, quic)]);
    expect(native.stages.map((s) => s.peerId)).toEqual([pid('N')]);
    const tab = plan(model(), [peer('A', whole, 100, quic), peer('N', whole, 100, relayed)]);
    expect(tab.stages.map((s) => s.peerId)).toEqual([pid('A')]);
    // Throughput alone decides too: the same round trip, one link 100 times slower.
    const thin = plan(model(), [peer('A', whole, 100, { rttMs: 5, linkBytesPerSecond: 100e3 }), peer('N', whole, 100, { rttMs: 5, linkBytesPerSecond: 10e6 })]);
    expect(thin.stages.map((s) => s.peerId)).toEqual([pid('N')]);
  });

  it('splits over native peers and leaves the relayed tab out when they hold the model without it, and the reverse', () => {
    const half = 6 * 100 + 60 + 10;
    const split = plan(model(), [peer('A', half, 100, relayed), peer('M', half, 100, quic), peer('N', half, 100, quic)]);
    expect(split.stages.map((s) => s.peerId)).toEqual([pid('M'), pid('N')]);
    expect(split.excluded).toEqual([{ peerId: pid('A'), reason: 'slow_link' }]);
    const flipped = plan(model(), [peer('A', half, 100, quic), peer('M', half, 100, relayed), peer('N', half, 100, quic)]);
    expect(flipped.stages.map((s) => s.peerId)).toEqual([pid('A'), pid('N')]);
    // A pipeline of native peers beats a relayed tab that could hold the whole model alone.
    const overSolo = plan(model(), [peer('A', whole, 100, relayed), peer('M', half, 100, quic), peer('N', half, 100, quic)]);
    expect(overSolo.stages.map((s) => s.peerId)).toEqual([pid('M'), pid('N')]);
    // Needed for memory, the slow link takes part; as a joiner of a working plan, it takes no slice.
    const needed = plan(model(), [peer('A', half, 100, relayed), peer('M', half, 100, quic)]);
    expect(needed.stages.map((s) => s.peerId)).toEqual([pid('A'), pid('M')]);
    const third = 4 * 100 + 60 + 10;
    const before = plan(model(), [peer('M', third + 400, 100, quic), peer('N', third + 400, 100, quic)]);
    const joined = plan(model(), [peer('A', third, 100, relayed), peer('M', third + 400, 100, quic), peer('N', third + 400, 100, quic)], before);
    expect(joined.stages).toEqual(before.stages);
    expect(joined.excluded).toEqual([{ peerId: pid('A'), reason: 'slow_link' }]);
    // Not for good (as no_share is): once its link measures fast, it joins.
    const faster = plan(model(), [peer('A', third, 100, quic), peer('M', third + 400, 100, quic), peer('N', third + 400, 100, quic)], joined);
    expect(faster.stages.map((s) => s.peerId)).toContain(pid('A'));
  });

  it('counts an unmeasured link at the median throughput and stays the same whatever the order', () => {
    const peers = [peer('A', whole, 100, { rttMs: 2 }), peer('B', whole, 100, quic), peer('C', whole, 100, relayed), peer('D', whole, 100, quic)];
    // A counts at 50 MB/s: a tie with B and D, broken by peer id.
    const p = plan(model(), peers);
    expect(p.stages.map((s) => s.peerId)).toEqual([pid('A')]);
    expect(plan(model(), [...peers].reverse())).toEqual(p);
    // Where the median is the relayed tab's 200 kB/s, the unmeasured link counts as slow as that.
    const slowMedian = plan(model(), [peer('A', whole, 100, { rttMs: 2 }), peer('B', whole, 100, quic), peer('C', whole, 100, relayed)]);
    expect(slowMedian.stages.map((s) => s.peerId)).toEqual([pid('B')]);
  });
});
