// Download speed and time left, from a sliding window of progress samples.

export class RateMeter {
  readonly #windowMs: number;
  #samples: { at: number; bytes: number }[] = [];

  constructor(windowMs = 4000) {
    this.#windowMs = windowMs;
  }

  /** Records the cumulative bytes at time `at` (ms). */
  add(at: number, bytes: number): void {
    this.#samples.push({ at, bytes });
    while (this.#samples.length > 2 && at - this.#samples[0].at > this.#windowMs) this.#samples.shift();
  }

  /** Bytes per second over the window; null until there are two samples apart in time. */
  rate(): number | null {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (!first || !last || last.at <= first.at) return null;
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
  }

  /** Seconds until `total`, at the current rate. */
  secondsLeft(received: number, total: number | null): number | null {
    const rate = this.rate();
    if (total === null || !rate || rate <= 0) return null;
    return Math.max(0, (total - received) / rate);
  }

  reset(): void {
    this.#samples = [];
  }
}
