// Turns llama.cpp's raw logits into exact log-probabilities. The addon's own `probabilities` are
// float32 and lose the tail; float64 log-sum-exp over the whole vocabulary keeps every digit.
import type { TokenLogprob } from './types.ts';

/** log(sum(exp(logits))), stable and in float64. */
export function logSumExp(logits: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return max + Math.log(sum);
}

/** The k most likely tokens, highest first; exact ties go to the lower id (llama.cpp's greedy rule). */
export function topKLogprobs(logits: ArrayLike<number>, k: number): TokenLogprob[] {
  const lse = logSumExp(logits);
  const best: number[] = []; // ids, kept sorted by (logit desc, id asc)
  const before = (a: number, b: number) => logits[a] > logits[b] || (logits[a] === logits[b] && a < b);
  for (let id = 0; id < logits.length; id++) {
    if (best.length === k && !before(id, best[k - 1])) continue;
    let at = best.length === k ? k - 1 : best.length;
    while (at > 0 && before(id, best[at - 1])) at--;
    best.splice(at, 0, id);
    if (best.length > k) best.pop();
  }
  return best.map((id) => ({ id, logprob: logits[id] - lse }));
}

/** Dense logits array from node-llama-cpp's token→logit map (which covers the whole vocabulary). */
export function denseLogits(map: Map<number, number>, nVocab: number): Float64Array {
  const out = new Float64Array(nVocab).fill(-Infinity);
  for (const [id, logit] of map) out[id] = logit;
  return out;
}
