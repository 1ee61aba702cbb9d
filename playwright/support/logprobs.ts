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

/** A run's teacher-forced log-probs over a prompt, as the reference records them. */
export interface TeacherForced {
  /** positions[i]: tokens after prompt position i, holding at least the reference's top-K there. */
  positions: readonly TokenLogprob[][];
  /** promptLogprobs[i]: the log-prob of the prompt's token i + 1 (the forced one) after position i. */
  promptLogprobs: readonly number[];
}

/**
 * How far a run is from the reference, measured one way for every run compared: per position, |Δ| on
 * the forced token and the worst |Δ| over the reference's top-K; summarised by their max and median.
 */
export interface LogprobGap {
  forced: number[];
  top: number[];
  forcedMax: number;
  topMax: number;
  forcedMedian: number;
  topMedian: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function logprobGap(reference: TeacherForced, run: TeacherForced, whose: string): LogprobGap {
  expect(run.promptLogprobs, `${whose}: one forced log-prob per prompt position but the last`).toHaveLength(reference.promptLogprobs.length);
  expect(run.positions, `${whose}: one list per prompt position`).toHaveLength(reference.positions.length);
  const forced = reference.promptLogprobs.map((lp, i) => Math.abs(run.promptLogprobs[i] - lp));
  const top = reference.positions.map((_, i) => worstLogprobGap([reference.positions[i]], [run.positions[i]], `${whose} at position ${i}`));
  return { forced, top, forcedMax: Math.max(...forced), topMax: Math.max(...top), forcedMedian: median(forced), topMedian: median(top) };
}

export function describeGap(g: LogprobGap): string {
  const f = (x: number) => x.toFixed(3);
  return `forced token max ${f(g.forcedMax)} median ${f(g.forcedMedian)}, top-K max ${f(g.topMax)} median ${f(g.topMedian)}`;
}
