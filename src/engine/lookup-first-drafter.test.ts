import { describe, expect, it } from 'vitest';
import type { Draft, Drafter } from './drafter.ts';
import { LookupFirstDrafter } from './lookup-first-drafter.ts';

/** A drafter that records what it is asked and proposes `tokens`. */
function recording(tokens: number[]): Drafter & { calls: number[][]; freed: boolean } {
  const d = {
    kind: 'model',
    calls: [] as number[][],
    freed: false,
    async draft(context: readonly number[], k: number): Promise<Draft> {
      d.calls.push([...context]);
      return { tokens: tokens.slice(0, k), probs: tokens.slice(0, k).map(() => new Float64Array([1])) };
    },
    free() {
      d.freed = true;
    },
  };
  return d;
}

describe('LookupFirstDrafter', () => {
  it('proposes what followed the repeated suffix, without asking the model', async () => {
    const model = recording([99, 98]);
    const drafter = new LookupFirstDrafter(model);
    // 5 6 7 8 … 5 6: lookup copies 7 8 5 6 (reading on into its own copy)
    const got = await drafter.draft([1, 5, 6, 7, 8, 5, 6], 4);
    expect(got.tokens).toEqual([7, 8, 5, 6]);
    expect(got.probs).toBeUndefined();
    expect(model.calls).toEqual([]);
  });

  it('asks the model, and passes on its distributions, where lookup finds nothing', async () => {
    const model = recording([99, 98, 97]);
    const drafter = new LookupFirstDrafter(model);
    const got = await drafter.draft([1, 2, 3, 4], 2);
    expect(got.tokens).toEqual([99, 98]);
    expect(got.probs).toHaveLength(2);
    expect(model.calls).toEqual([[1, 2, 3, 4]]);
    drafter.free();
    expect(model.freed).toBe(true);
  });
});
