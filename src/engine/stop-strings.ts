// Stop strings over streamed text: a stop string can span several tokens, so text that might be the
// start of one is held back until the next token shows whether it is. The stop string itself and
// whatever follows it are never released (OpenAI semantics).

export interface StopResult {
  /** Text safe to show now. */
  readonly text: string;
  /** A stop string was completed: generation should end. */
  readonly stopped: boolean;
}

export class StopMatcher {
  private readonly stops: readonly string[];
  private held = '';
  private done = false;

  constructor(stops: readonly string[] = []) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  push(text: string): StopResult {
    if (this.done) return { text: '', stopped: true };
    const buf = this.held + text;
    let cut = -1;
    for (const s of this.stops) {
      const at = buf.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.done = true;
      this.held = '';
      return { text: buf.slice(0, cut), stopped: true };
    }
    const keep = this.partialSuffix(buf);
    this.held = buf.slice(buf.length - keep);
    return { text: buf.slice(0, buf.length - keep), stopped: false };
  }

  /** Releases what was held back (the generation ended without completing a stop string). */
  flush(): string {
    const t = this.held;
    this.held = '';
    return this.done ? '' : t;
  }

  /** Length of the longest suffix of buf that is a proper prefix of some stop string. */
  private partialSuffix(buf: string): number {
    let best = 0;
    for (const s of this.stops) {
      for (let len = Math.min(s.length - 1, buf.length); len > best; len--) {
        if (buf.endsWith(s.slice(0, len))) {
          best = len;
          break;
        }
      }
    }
    return best;
  }
}
