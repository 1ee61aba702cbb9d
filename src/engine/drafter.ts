// What speculative decoding asks of a drafter: a cheap guess of the next few tokens, which the target
// model then checks in one batched pass (speculative.ts). Drafters keep whatever state they need and
// resynchronise from the context they are given, so a rejected guess needs no separate rollback call.

export interface Draft {
  /** Proposed continuation, at most the `k` asked for (possibly none). */
  readonly tokens: readonly number[];
  /**
   * For a random proposal, the distribution (over the vocabulary) each token was drawn from, which
   * rejection sampling divides by. Absent: the proposal is a function of the context alone, and
   * verification reduces to sampling the target and comparing.
   */
  readonly probs?: readonly Float64Array[];
}

export interface Drafter {
  /** For logs and benchmarks: 'ngram', 'model'. */
  readonly kind: string;
  /** Up to `k` tokens likely to follow `context` (the prompt and every token generated so far). */
  draft(context: readonly number[], k: number, signal?: AbortSignal): Promise<Draft>;
  /** Releases what the drafter holds (a draft model's KV cache). */
  free(): void;
}

/** Counts one generation's speculation adds up, for the API's usage extension and the benchmark. */
export interface SpeculativeStats {
  /** Draft tokens sent to the target for verification. */
  drafted: number;
  /** Draft tokens the target accepted and the generation emitted. */
  accepted: number;
  /** Verification passes that carried at least one draft token. */
  passes: number;
}

export function emptySpeculativeStats(): SpeculativeStats {
  return { drafted: 0, accepted: 0, passes: 0 };
}
