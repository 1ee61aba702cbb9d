// Download speed and time left, from a sliding window of progress samples, and the byte/duration
// formats the Models view shows.

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

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** Decimal units, as download managers and disk sizes show them: 5.2 MB. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value >= 100 ? 0 : 1)} ${UNITS[unit]}`;
}

export function formatDuration(seconds: number): string {
  if (seconds < 1) return 'under a second';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}
