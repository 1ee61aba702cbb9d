// Recent replies (speed) and errors of this tab, shared by the Playground (which records) and the
// Dashboard (which plots). Bounded, in memory: a picture of the last minutes, not a log.

export interface ReplySample {
  /** Date.now() when the reply finished. */
  at: number;
  model: string;
  tokens: number;
  tokensPerSecond: number;
  /** Who answered (x-mesh-via). */
  via: string;
}

export interface ErrorSample {
  at: number;
  where: string;
  title: string;
  detail: string;
}

export class MetricsStore {
  readonly #limit: number;
  readonly #replies: ReplySample[] = [];
  readonly #errors: ErrorSample[] = [];
  readonly #listeners = new Set<() => void>();

  constructor(limit = 60) {
    this.#limit = limit;
  }

  /** Replies without a measurable speed (one token, stopped at once) are not samples of speed. */
  recordReply(sample: Omit<ReplySample, 'tokensPerSecond'> & { tokensPerSecond: number | null }): void {
    if (sample.tokensPerSecond === null || !Number.isFinite(sample.tokensPerSecond) || sample.tokensPerSecond <= 0) return;
    this.#push(this.#replies, { ...sample, tokensPerSecond: sample.tokensPerSecond });
  }

  recordError(sample: ErrorSample): void {
    this.#push(this.#errors, sample);
  }

  replies(): readonly ReplySample[] {
    return this.#replies;
  }

  /** Newest first. */
  errors(): readonly ErrorSample[] {
    return [...this.#errors].reverse();
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #push<T>(list: T[], item: T): void {
    list.push(item);
    if (list.length > this.#limit) list.splice(0, list.length - this.#limit);
    for (const listener of this.#listeners) listener();
  }
}
