// Speculative decoding: a drafter guesses k tokens, the target runs the pending token and the guesses
// in one multi-token extend() and so gets the logits of all k+1 positions at once, keeps the longest
// prefix its own sampler agrees with plus one token of its own, and truncates its KV cache back over
// the rest. Greedy output is the plain loop's token for token; with sampling the draws are standard
// rejection sampling, so the tokens follow the target's distribution. k adapts to the acceptance rate,
// and a drafter that keeps missing is consulted less and less often.
import type { Draft, Drafter, SpeculativeStats } from './drafter.ts';
import { DraftLength } from './draft-length.ts';
import type { Sampler } from './sampler.ts';
import type { InferenceSession } from './session.ts';

/** The most plain steps drafting is skipped for after drafts keep missing. */
const MAX_BACKOFF = 32;

export interface SpeculativeOptions {
  readonly drafter: Drafter;
  /** Draft length to start with (default 4); it then adapts within 1..maxK. */
  readonly k?: number;
  /** Default 16. */
  readonly maxK?: number;
  /** Filled in as the generation runs. */
  readonly stats?: SpeculativeStats;
}

/** One generated token and the row of logits it was chosen from (for log-probs; valid until the next step is asked for). */
export interface Step {
  readonly token: number;
  readonly logits: Float32Array;
  readonly offset: number;
}

/** The plain loop: one token per extend(). `first` is the last prompt position's logits. */
export async function* plainSteps(session: InferenceSession, sampler: Sampler, first: Float32Array, signal?: AbortSignal): AsyncGenerator<Step> {
  let logits = first;
  // From the second step on, each row is written into the one before it (read by then): no 608 KB
  // array per token for a 150k vocabulary, whose garbage piled up ~100 MB in a tab before a GC.
  let done: Float32Array | undefined;
  for (;;) {
    signal?.throwIfAborted();
    const token = sampler.sample(logits);
    sampler.accept(token);
    yield { token, logits, offset: 0 };
    logits = await session.extend([token], { logits: 'last', signal, into: done });
    done = logits;
  }
}

/**
 * The speculative loop. `room()` is how many more tokens the consumer will take: drafts never reach
 * past it. Whenever the consumer stops at a yield the session holds exactly what the plain loop's
 * would (every token before the last one yielded), so a kept session is reused as it is.
 */
export async function* speculativeSteps(
  session: InferenceSession,
  sampler: Sampler,
  first: Float32Array,
  o: SpeculativeOptions,
  room: () => number,
  signal?: AbortSignal,
): AsyncGenerator<Step> {
  const nVocab = first.length;
  const maxK = Math.max(1, Math.min(16, o.maxK ?? 16));
  let k = Math.max(1, Math.min(maxK, o.k ?? 4));
  // Rows of one extend() equal a one-token extend()'s bit for bit only up to this batch on some
  // backends; verifying in such chunks keeps greedy output identical to the plain loop's.
  const chunk = Math.max(1, session.exactBatch ?? Number.POSITIVE_INFINITY);
  // A drafter that keeps missing at k = 1 costs a draft per token for nothing: skip drafting for
  // `pause` steps, doubling while it keeps missing (up to MAX_BACKOFF), until a draft lands again.
  let backoff = 0;
  let pause = 0;
  const length = new DraftLength();
  signal?.throwIfAborted();
  let last = sampler.sample(first);
  sampler.accept(last);
  let keep = session.length; // what the session must hold if the consumer stops now
  try {
    yield { token: last, logits: first, offset: 0 };
    for (;;) {
      signal?.throwIfAborted();
      const base = session.length;
      const want = pause > 0 ? 0 : Math.min(k, room() - 1, session.maxPositions - base - 1);
      if (pause > 0) pause--;
      const draftStart = performance.now();
      const draft: Draft = want > 0 ? await o.drafter.draft([...session.tokens, last], want, signal) : { tokens: [] };
      if (want > 0) length.draft(want, performance.now() - draftStart);
      const d = draft.tokens.slice(0, Math.max(0, want));
      if (o.stats && d.length > 0) {
        o.stats.drafted += d.length;
        o.stats.passes++;
      }
      const input = [last, ...d];
      let accepted = 0;
      let rejected = false;
      for (let pos = 0; pos < input.length && !rejected; pos += chunk) {
        const part = input.slice(pos, pos + chunk);
        const passStart = performance.now();
        const rows = await session.extend(part, { logits: 'all', signal });
        length.pass(part.length, performance.now() - passStart);
        for (let j = 0; j < part.length; j++) {
          // row i holds the target's distribution for input[i + 1]: draft token d[i], or its own token after the last
          const i = pos + j;
          const t = i < d.length ? verifyToken(sampler, rows, j * nVocab, nVocab, d[i], draft.probs?.[i]) : sampler.sample(rows, j * nVocab, nVocab);
          sampler.accept(t);
          keep = base + 1 + i;
          if (i < d.length && t === d[i]) {
            accepted++;
            if (o.stats) o.stats.accepted++;
          } else {
            rejected = i < d.length;
            last = t;
            session.truncate(keep); // roll back over the rejected draft (and any rows run past it)
          }
          yield { token: t, logits: rows, offset: j * nVocab };
          if (rejected) break;
        }
      }
      if (d.length > 0) {
        if (accepted > 0) backoff = 0;
        else if (k === 1) pause = backoff = Math.min(MAX_BACKOFF, Math.max(1, backoff * 2));
        length.accepted(accepted, d.length);
        k = length.best(maxK) ?? (accepted === d.length ? Math.min(maxK, k + 2) : Math.max(1, Math.floor((k + accepted) / 2)));
      }
    }
  } finally {
    // The consumer stopped (or something threw) inside a pass: forget the rows past what it took.
    if (session.length > keep) session.truncate(keep);
  }
}

/**
 * The target's token at a position where the drafter proposed `drafted`. A proposal that is a
 * function of the context (n-gram, greedy draft model) is accepted exactly when the target's own
 * draw equals it, which is rejection sampling with a one-point proposal. A random proposal drawn from
 * `q` is accepted with probability min(1, p/q), and a rejection draws from the residual max(0, p - q).
 */
export function verifyToken(sampler: Sampler, logits: Float32Array, offset: number, n: number, drafted: number, q?: Float64Array): number {
  if (!q || sampler.greedy) return sampler.sample(logits, offset, n);
  const p = sampler.probabilities(logits, offset, n);
  if (sampler.uniform() * q[drafted] < p[drafted]) return drafted;
  const residual = new Float64Array(n);
  let mass = 0;
  for (let i = 0; i < n; i++) mass += residual[i] = Math.max(0, p[i] - q[i]);
  return sampler.drawFrom(mass > 0 ? residual : p);
}
