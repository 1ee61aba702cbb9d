// Applies stop sequences to generated text as it streams: text that could be the start of a stop
// sequence is held back until the next tokens show whether it is one, so a stop string is never
// partly sent; at a match, the text before it is released and generation ends.
export interface StopResult {
  /** Text that is safe to send now. */
  emit: string;
  /** The stop sequence that matched, once one has. */
  matched: string | null;
}

export class StopMatcher {
  private readonly stops: string[];
  private held = '';
  private done = false;

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  push(text: string): StopResult {
    if (this.done) return { emit: '', matched: null };
    const buffer = this.held + text;
    let first = -1;
    let matched: string | null = null;
    for (const s of this.stops) {
      const at = buffer.indexOf(s);
      if (at >= 0 && (first < 0 || at < first)) {
        first = at;
        matched = s;
      }
    }
    if (matched !== null) {
      this.done = true;
      this.held = '';
      return { emit: buffer.slice(0, first), matched };
    }
    const keep = this.partialSuffix(buffer);
    this.held = buffer.slice(buffer.length - keep);
    return { emit: buffer.slice(0, buffer.length - keep), matched: null };
  }

  /** At the end of generation: what was held back was not a stop sequence after all. */
  flush(): string {
    const rest = this.done ? '' : this.held;
    this.held = '';
    return rest;
  }

  /** Length of the longest suffix of `buffer` that is a proper prefix of some stop sequence. */
  private partialSuffix(buffer: string): number {
    let best = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, buffer.length); n > best; n--) {
        if (buffer.endsWith(s.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
