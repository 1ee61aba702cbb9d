// A drafter that runs a small model sharing the target's vocabulary, one token at a time, in its own
// inference session. Each call first brings that session to the given context: it keeps the common
// prefix (rolling back whatever the target rejected) and runs only the tokens it has not seen.
import type { Draft, Drafter } from './drafter.ts';
import { EngineError } from './errors.ts';
import { GREEDY, Sampler, type SamplingOptions } from './sampler.ts';
import type { InferenceSession } from './session.ts';

/** Seeds the drafter's own stream apart from the target's, so the two draws stay independent. */
const SEED_OFFSET = 0x5bd1e995;

export class ModelDrafter implements Drafter {
  readonly kind = 'model';
  private readonly session: InferenceSession;
  private readonly sampler: Sampler;

  /**
   * `session` is a fresh session of the draft model (it is freed with the drafter). With greedy
   * `sampling` (the default: the request's sampling is what makes drafts random, never the lack of
   * it) the draft is the draft model's argmax; otherwise it is drawn from the draft model's
   * distribution under the same temperature and truncation (penalties left out: the target applies them).
   */
  constructor(session: InferenceSession, sampling: SamplingOptions = GREEDY) {
    this.session = session;
    const { repeatPenalty: _r, presencePenalty: _p, frequencyPenalty: _f, ...rest } = sampling;
    this.sampler = new Sampler({ ...rest, seed: sampling.seed === undefined ? undefined : (sampling.seed + SEED_OFFSET) % 0x100000000 });
  }

  async draft(context: readonly number[], k: number, signal?: AbortSignal): Promise<Draft> {
    const s = this.session;
    k = Math.min(k, s.maxPositions - context.length);
    if (k <= 0 || context.length === 0) return { tokens: [] };
    // Keep the common prefix, but always rerun at least the last context token: its logits start the draft.
    let keep = 0;
    const held = s.tokens;
    const cap = Math.min(held.length, context.length - 1);
    while (keep < cap && held[keep] === context[keep]) keep++;
    s.truncate(keep);
    let logits = await s.extend(context.slice(keep), { logits: 'last', signal });
    const tokens: number[] = [];
    const probs: Float64Array[] = [];
    const random = !this.sampler.greedy;
    for (;;) {
      let t: number;
      if (random) {
        const q = this.sampler.probabilities(logits);
        t = this.sampler.drawFrom(q);
        probs.push(q);
      } else {
        t = this.sampler.sample(logits);
      }
      tokens.push(t);
      if (tokens.length >= k) break;
      logits = await s.extend([t], { logits: 'last', signal });
    }
    return random ? { tokens, probs } : { tokens };
  }

  free(): void {
    this.session.free();
  }
}

/** Refuses a draft model whose token ids would not mean the target's tokens. */
export function checkDraftVocabulary(targetVocab: number, draftVocab: number, draftName: string): void {
  if (targetVocab !== draftVocab) {
    throw new EngineError(
      'engine_bad_input',
      `the draft model ${draftName} has a vocabulary of ${draftVocab} tokens but the target has ${targetVocab}; pick a draft model made for this target, or the 'ngram' drafter`,
    );
  }
}
