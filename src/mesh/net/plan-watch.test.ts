import { describe, expect, it } from 'vitest';
import type { GossipMessage } from '../../protocol/mesh-messages.ts';
import type { LayerPlan } from '../../protocol/mesh-plan.ts';
import { PlanWatch } from './plan-watch.ts';

const env = (peerId: string, seq = 1) => ({ protocol: 1, peerId, seq, sentAt: 0 });
const plan = (epoch: number, ranges: [string, number, number][]): LayerPlan => ({
  model: 'm',
  layerCount: 4,
  epoch,
  mode: ranges.length === 1 ? 'solo' : 'pipeline',
  stages: ranges.map(([peerId, start, end]) => ({ peerId, layers: { start, end }, shard: { kind: 'dense' as const } })),
  head: ranges[0][0],
  tail: ranges.at(-1)![0],
  excluded: [],
});
const planMsg = (from: string, p: LayerPlan): GossipMessage => ({ type: 'layer-plan', ...env(from), plan: p });
const ready = (from: string, start: number, end: number): GossipMessage => ({
  type: 'stage-ready',
  ...env(from),
  model: 'm',
  planEpoch: 1,
  layers: { start, end },
  shard: { kind: 'dense' },
});

describe('PlanWatch', () => {
  it('has no view until a head gossips a plan, and ignores plans from non-heads', () => {
    const w = new PlanWatch({ isHead: (id) => id === 'head' });
    expect(w.view()).toBeUndefined();
    expect(w.onGossip(planMsg('other', plan(1, [['a', 0, 4]])))).toBe(false);
    expect(w.view()).toBeUndefined();
    expect(
      w.onGossip(
        planMsg(
          'head',
          plan(1, [
            ['a', 0, 2],
            ['b', 2, 4],
          ]),
        ),
      ),
    ).toBe(true);
    expect(w.view()?.stages.map((s) => `${s.peerId}:${s.layers.start}-${s.layers.end}`)).toEqual(['a:0-2', 'b:2-4']);
  });

  it('keeps the newest epoch: an older plan arriving late does not replace it', () => {
    const w = new PlanWatch();
    w.onGossip(
      planMsg(
        'head',
        plan(3, [
          ['a', 0, 1],
          ['b', 1, 3],
          ['c', 3, 4],
        ]),
      ),
    );
    expect(w.onGossip(planMsg('head', plan(2, [['a', 0, 4]])))).toBe(false);
    expect(w.view()?.epoch).toBe(3);
    expect(w.view()?.stages).toHaveLength(3);
  });

  it('marks stages ready from stage-ready gossip, member peer state, or this tab itself, matching the range', () => {
    const w = new PlanWatch();
    w.onGossip(
      planMsg(
        'head',
        plan(1, [
          ['a', 0, 1],
          ['b', 1, 3],
          ['c', 3, 4],
        ]),
      ),
    );
    w.onGossip(ready('a', 0, 1));
    w.onGossip(ready('b', 1, 2)); // an old range of b's: not the planned one
    const members = [
      {
        peerId: 'c',
        state: {
          type: 'peer-state' as const,
          ...env('c'),
          role: 'server' as const,
          backend: 'wasm' as const,
          memoryBudgetBytes: 1,
          layerTokensPerSecond: 0,
          rttMs: 0,
          models: [{ model: 'm', layers: { start: 3, end: 4 } }],
          activeSessions: 0,
        },
      },
    ];
    expect(w.view(members)?.stages.map((s) => s.ready)).toEqual([true, false, true]);
    expect(w.view(members, { peerId: 'b', model: 'm', ready: { start: 1, end: 3 } })?.stages.map((s) => s.ready)).toEqual([true, true, true]);
  });

  it("keeps a plan per model (a head serving several): the view shows this peer's model, else the one that changed last", () => {
    const w = new PlanWatch();
    const of = (model: string, epoch: number, peerId: string): LayerPlan => ({ ...plan(epoch, [[peerId, 0, 4]]), model });
    expect(w.onGossip(planMsg('head', of('m1', 3, 'a')))).toBe(true);
    expect(w.onGossip(planMsg('head', of('m2', 0, 'b')))).toBe(true);
    // Republished plans of either model change nothing: no flipping between them.
    expect(w.onGossip(planMsg('head', of('m1', 3, 'a')))).toBe(false);
    expect(w.onGossip(planMsg('head', of('m2', 0, 'b')))).toBe(false);
    expect(w.view()?.model).toBe('m2');
    expect(w.view([], { peerId: 'a' })?.model).toBe('m1');
    expect(w.latest('b')?.model).toBe('m2');
    expect(w.onGossip(planMsg('head', of('m1', 4, 'c')))).toBe(true);
    expect(w.latest()?.model).toBe('m1');
    expect(w.latest('c')?.epoch).toBe(4);
  });
});
