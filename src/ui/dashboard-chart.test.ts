import { describe, expect, it } from 'vitest';
import { meshPlanSegments, niceCeiling, planSegments, throughputPlot } from './dashboard-chart.ts';

describe('niceCeiling', () => {
  it('rounds up to 1, 2 or 5 times a power of ten', () => {
    expect([0, 0.3, 1, 1.1, 3, 7, 42, 180, 501].map(niceCeiling)).toEqual([1, 0.5, 1, 2, 5, 10, 50, 200, 1000]);
  });
});

describe('throughputPlot', () => {
  it('spreads samples across the width and scales them to the axis', () => {
    const plot = throughputPlot([10, 20, 40], 200, 100);
    expect(plot.yMax).toBe(50);
    expect(plot.ticks).toEqual([0, 25, 50]);
    expect(plot.points.map((p) => [p.x, p.y])).toEqual([
      [0, 80],
      [100, 60],
      [200, 20],
    ]);
  });
  it('puts a single sample in the middle', () => {
    expect(throughputPlot([3], 200, 100).points[0]).toMatchObject({ x: 100, y: 40 });
  });
});

describe('planSegments', () => {
  it('gives the whole model to its owner when no plan splits it', () => {
    expect(planSegments({ layers: 8, owner: 'Companion (cpu)' })).toEqual([{ label: 'Companion (cpu)', start: 0, end: 8, kind: 'companion' }]);
  });
  it('places this tab among the other peers', () => {
    expect(planSegments({ layers: 8, owner: 'x', self: { start: 2, end: 5 } }).map((s) => [s.kind, s.start, s.end])).toEqual([
      ['peer', 0, 2],
      ['self', 2, 5],
      ['peer', 5, 8],
    ]);
    expect(planSegments({ layers: 8, owner: 'x', self: { start: 0, end: 8 } })).toHaveLength(1);
  });
  it('ignores a range that does not fit the model', () => {
    expect(planSegments({ layers: 4, owner: 'x', self: { start: 2, end: 9 } })[0].kind).toBe('companion');
    expect(planSegments({ layers: 0, owner: 'x' })).toEqual([]);
  });
});

describe('meshPlanSegments', () => {
  it('gives one segment per gossiped stage, this tab named as such and others by their label', () => {
    const stages = [
      { peerId: 'a', layers: { start: 0, end: 2 }, ready: true },
      { peerId: 'me', layers: { start: 2, end: 3 }, ready: false },
      { peerId: 'c', layers: { start: 3, end: 4 }, ready: true },
    ];
    const segs = meshPlanSegments(stages, 'me', (id) => `Peer ${id.toUpperCase()}`);
    expect(segs.map((s) => [s.label, s.start, s.end, s.kind, s.ready])).toEqual([
      ['Peer A', 0, 2, 'peer', true],
      ['This tab', 2, 3, 'self', false],
      ['Peer C', 3, 4, 'peer', true],
    ]);
  });
});
