// Compares a wllama greedy run with the node-llama-cpp reference and lists every disagreement.
import type { ReferenceResult } from '../../tools/reference/reference.ts';
import type { WllamaStep } from './wllama-page.ts';

export interface Tolerance {
  /** On each log-probability. */
  readonly absolute: number;
  /** On each log-probability minus the step's top-1: free of the softmax normalisation error. */
  readonly relative: number;
  /** Stop comparing at the first reference step whose top-1/top-2 margin is below this. */
  readonly margin: number;
}

/** Returns human-readable mismatches (empty when the runs agree) and how many steps were compared. */
export function compareWithReference(ref: ReferenceResult, steps: WllamaStep[], tol: Tolerance): { mismatches: string[]; compared: number } {
  const mismatches: string[] = [];
  let compared = 0;
  for (let i = 0; i < ref.greedy.length && i < steps.length; i++) {
    const want = ref.greedy[i];
    const got = steps[i];
    compared++;
    if (got.id !== want.token) mismatches.push(`step ${i}: wllama chose ${got.id}, llama.cpp ${want.token} (margin ${want.margin.toFixed(4)})`);
    const top0 = got.top.find((t) => t.id === want.top[0].id);
    want.top.forEach((w, j) => {
      const g = got.top.find((t) => t.id === w.id);
      if (!g) {
        // Only a near-tie at the cut of the list may drop out.
        const last = got.top.at(-1);
        if (j !== want.top.length - 1 || !last || Math.abs(last.logprob - w.logprob) > tol.absolute) {
          mismatches.push(`step ${i}: token ${w.id} (rank ${j}) missing from wllama's top ${got.top.length}`);
        }
        return;
      }
      if (Math.abs(g.logprob - w.logprob) > tol.absolute) {
        mismatches.push(`step ${i}: token ${w.id} logprob ${g.logprob} vs ${w.logprob}`);
      }
      if (top0 && Math.abs(g.logprob - top0.logprob - (w.logprob - want.top[0].logprob)) > tol.relative) {
        mismatches.push(`step ${i}: token ${w.id} gap to top-1 ${g.logprob - top0.logprob} vs ${w.logprob - want.top[0].logprob}`);
      }
    });
    if (want.margin < tol.margin) break; // past a near-tie, correct implementations may diverge
  }
  return { mismatches, compared };
}
