// Log-probabilities from logits: what parity tests and the `logits` CLI command report.

export interface TokenLogprob {
  readonly id: number;
  readonly logprob: number;
}

/** log softmax of logits[offset .. offset+n), in double precision. */
export function logSoftmax(logits: Float32Array, offset = 0, n = logits.length - offset): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[offset + i] > max) max = logits[offset + i];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[offset + i] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = logits[offset + i] - lse;
  return out;
}

/** The k most likely tokens of one row of logits, most likely first (ties: lower id first). */
export function topLogprobs(logits: Float32Array, k: number, offset = 0, n = logits.length - offset): TokenLogprob[] {
  const lp = logSoftmax(logits, offset, n);
  const ids = Array.from({ length: n }, (_, i) => i);
  ids.sort((a, b) => lp[b] - lp[a] || a - b);
  return ids.slice(0, k).map((id) => ({ id, logprob: lp[id] }));
}
