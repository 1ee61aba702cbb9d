// A draft model's guesses cost a model step per token, and a small model is often wrong; where the
// context repeats itself (a list, code, a loop the target has fallen into) prompt lookup guesses for
// free and is right far more often. This drafter asks prompt lookup first and the draft model only
// where lookup finds nothing. Each pass's proposal is one or the other, whole: a lookup proposal is a
// function of the context (verified by comparison), a sampled model proposal carries its
// distributions (verified by rejection sampling), so the target's distribution is kept either way.
import type { Draft, Drafter } from './drafter.ts';
import { NgramDrafter } from './ngram-drafter.ts';

export class LookupFirstDrafter implements Drafter {
  readonly kind = 'ngram+model';
  private readonly lookup = new NgramDrafter();
  private readonly model: Drafter;

  constructor(model: Drafter) {
    this.model = model;
  }

  async draft(context: readonly number[], k: number, signal?: AbortSignal): Promise<Draft> {
    const found = await this.lookup.draft(context, k);
    return found.tokens.length > 0 ? found : this.model.draft(context, k, signal);
  }

  free(): void {
    this.model.free();
  }
}
