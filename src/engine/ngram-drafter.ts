// A model-free drafter (prompt lookup): finds the longest recent suffix of the context that occurred
// before and proposes what followed it. Free to run, and right often on lists, code and quoted text,
// where the answer repeats the prompt or itself.
import type { Draft, Drafter } from './drafter.ts';
import { EngineError } from './errors.ts';

export interface NgramOptions {
  /** Longest suffix tried first (default 4). */
  readonly maxNgram?: number;
  /** Shortest suffix accepted as a match (default 2: a single token repeats too often to predict much). */
  readonly minNgram?: number;
}

export class NgramDrafter implements Drafter {
  readonly kind = 'ngram';
  private readonly maxN: number;
  private readonly minN: number;

  constructor(options: NgramOptions = {}) {
    this.maxN = options.maxNgram ?? 4;
    this.minN = options.minNgram ?? 2;
    if (!(Number.isInteger(this.minN) && this.minN >= 1 && Number.isInteger(this.maxN) && this.maxN >= this.minN)) {
      throw new EngineError('engine_bad_input', `n-gram drafter sizes must be integers with 1 <= minNgram <= maxNgram, got ${this.minN} and ${this.maxN}`);
    }
  }

  async draft(context: readonly number[], k: number): Promise<Draft> {
    return { tokens: lookup(context, k, this.minN, this.maxN) };
  }

  free(): void {}
}

/**
 * The tokens after the most recent earlier occurrence of the context's longest suffix (of minN..maxN
 * tokens). The copy reads on into its own output, so a repeating cycle is proposed for as long as asked.
 */
export function lookup(context: readonly number[], k: number, minN: number, maxN: number): number[] {
  const len = context.length;
  if (k <= 0) return [];
  for (let n = Math.min(maxN, len - 1); n >= minN; n--) {
    const from = len - n;
    // most recent first: the nearest repetition is the likeliest to continue
    for (let i = from - 1; i >= 0; i--) {
      let j = 0;
      while (j < n && context[i + j] === context[from + j]) j++;
      if (j < n) continue;
      const out: number[] = [];
      for (let m = 0; m < k; m++) {
        const at = i + n + m;
        out.push(at < len ? context[at] : out[at - len]);
      }
      return out;
    }
  }
  return [];
}
