import { describe, expect, it } from 'vitest';
import { DraftLength } from './draft-length.ts';

/** Feeds passes of 1..9 rows costing a + b·rows and `passes` verification outcomes at rate alpha. */
function measured(a: number, b: number, alpha: number, draftMsPerToken = 0): DraftLength {
  const d = new DraftLength();
  for (let i = 0; i < 30; i++) {
    const rows = 1 + (i % 9);
    d.pass(rows, a + b * rows);
    d.draft(4, 4 * draftMsPerToken);
    // one drafted position a pass: accepted in alpha of them
    d.accepted(i % 10 < alpha * 10 ? 1 : 0, 1);
  }
  return d;
}

describe('DraftLength', () => {
  it('has no opinion before passes of different sizes were timed', () => {
    const d = new DraftLength();
    for (let i = 0; i < 10; i++) d.pass(5, 20);
    expect(d.best(16)).toBeUndefined();
  });

  it('drafts long where a pass costs its round trip, not its rows (a mesh)', () => {
    const k = measured(40, 1, 0.8).best(16)!;
    expect(k).toBeGreaterThanOrEqual(6);
  });

  it('drafts short where every row costs (one machine) or drafts are seldom right', () => {
    expect(measured(1, 0.6, 0.3).best(16)).toBe(1);
    expect(measured(40, 1, 0.8, 30).best(16)).toBeLessThan(measured(40, 1, 0.8).best(16)!);
  });
});
