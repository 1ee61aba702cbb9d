// Comparing top-K log-probs with llama.cpp's: every one of its tokens must be among ours at each
// position, and the largest gap over them is what a spec holds to its tolerance.
import { expect } from '@playwright/test';

export interface TokenLogprob {
  id: number;
  logprob: number;
}

/** The largest |ours − llama.cpp's| over llama.cpp's tokens at every position; fails naming a token missing from `whose` list. */
export function worstLogprobGap(reference: readonly TokenLogprob[][], ours: readonly TokenLogprob[][], whose: string): number {
  let worst = 0;
  reference.forEach((top, i) => {
    const mine = new Map(ours[i].map((t) => [t.id, t.logprob]));
    for (const t of top) {
      expect(mine.has(t.id), `position ${i}: llama.cpp's token ${t.id} missing from ${whose}`).toBe(true);
      worst = Math.max(worst, Math.abs(mine.get(t.id)! - t.logprob));
    }
  });
  return worst;
}
