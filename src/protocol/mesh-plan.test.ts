import { describe, expect, it } from 'vitest';
import { validateLayerPlan } from './mesh-plan.ts';

const A = '12D3KooWNMr2dcVqZnAvKCSDKY1p94TnBRNcdcNQnRLXhXqyX87n';
const B = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo';
const C = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq';
const dense = (peerId: string, start: number, end: number) => ({ peerId, layers: { start, end }, shard: { kind: 'dense' } });
const experts = (peerId: string, start: number, end: number, from: number, to: number, count = 8) => ({
  peerId,
  layers: { start, end },
  shard: { kind: 'experts', start: from, end: to, count },
});
const plan = (stages: unknown[], extra: Record<string, unknown> = {}) => ({
  model: 'm',
  layerCount: 6,
  epoch: 0,
  mode: 'pipeline',
  stages,
  head: A,
  tail: C,
  excluded: [],
  ...extra,
});

describe('layer plan validator', () => {
  it('accepts dense ranges and expert shards that tile a range', () => {
    expect(validateLayerPlan(plan([dense(A, 0, 2), experts(B, 2, 4, 0, 3), experts(C, 2, 4, 3, 8), dense(C, 4, 6)])).ok).toBe(true);
  });

  it('rejects gaps, overlaps, partial expert coverage, a misplaced head or tail and a split solo plan', () => {
    const bad = [
      plan([dense(A, 0, 2), dense(C, 3, 6)]),
      plan([dense(A, 0, 3), dense(C, 2, 6)]),
      plan([dense(A, 0, 2), dense(C, 2, 5)]),
      plan([dense(A, 0, 2), experts(B, 2, 4, 0, 3), experts(C, 2, 4, 4, 8), dense(C, 4, 6)]),
      plan([dense(A, 0, 2), experts(B, 2, 4, 0, 3), dense(C, 4, 6)]),
      plan([dense(A, 0, 2), experts(B, 2, 4, 0, 3), experts(C, 2, 4, 3, 6, 6), dense(C, 4, 6)]),
      plan([dense(A, 0, 2), dense(C, 2, 6)], { head: C }),
      plan([dense(A, 0, 2), dense(C, 2, 6)], { tail: A }),
      plan([dense(A, 0, 2), dense(C, 2, 6)], { mode: 'solo' }),
      plan([]),
    ];
    for (const p of bad) expect(validateLayerPlan(p), JSON.stringify(p.stages)).toMatchObject({ ok: false, code: 'malformed' });
  });
});
