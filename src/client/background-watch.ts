// How much the browser slows this tab while it is hidden. Browsers throttle timers in background
// tabs (Chrome: to once a second, then once a minute after five minutes hidden) and may freeze them;
// a tab that lends compute should say so rather than look busy. This measures it: a 1 s ticker whose
// late ticks, while hidden, are the throttling the tab really got.

export interface BackgroundState {
  /** The page is hidden now (another tab in front, minimised window). */
  readonly hidden: boolean;
  /** Hidden time so far, this time and before, in ms. */
  readonly hiddenMs: number;
  /** The longest gap between two 1 s ticks seen while hidden (ms); 0 when never hidden. */
  readonly worstGapMs: number;
  /** A tick came more than THROTTLED_GAP_MS late while hidden. */
  readonly throttled: boolean;
}

/** A tick this late (the ticker asks for every 1 s) means the browser held the tab back. */
export const THROTTLED_GAP_MS = 5_000;
const TICK_MS = 1_000;

export interface BackgroundWatchDeps {
  now(): number;
  isHidden(): boolean;
  onVisibilityChange(listener: () => void): void;
  every(ms: number, tick: () => void): void;
}

export class BackgroundWatch {
  readonly #deps: BackgroundWatchDeps;
  readonly #listeners = new Set<() => void>();
  #hiddenSince: number | undefined;
  #hiddenMs = 0;
  #lastTick: number;
  #worstGapMs = 0;

  constructor(deps: BackgroundWatchDeps = browserDeps()) {
    this.#deps = deps;
    this.#lastTick = deps.now();
    if (deps.isHidden()) this.#hiddenSince = deps.now();
    deps.onVisibilityChange(() => this.#visibility());
    deps.every(TICK_MS, () => this.#tick());
  }

  state(): BackgroundState {
    const now = this.#deps.now();
    const hidden = this.#hiddenSince !== undefined;
    return {
      hidden,
      hiddenMs: this.#hiddenMs + (hidden ? now - this.#hiddenSince! : 0),
      worstGapMs: this.#worstGapMs,
      throttled: this.#worstGapMs > THROTTLED_GAP_MS,
    };
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #tick(): void {
    const now = this.#deps.now();
    const gap = now - this.#lastTick;
    this.#lastTick = now;
    // Only gaps while hidden count: a visible tab's late tick is a busy main thread, not throttling.
    if (this.#hiddenSince !== undefined && gap > this.#worstGapMs) {
      const wasThrottled = this.#worstGapMs > THROTTLED_GAP_MS;
      this.#worstGapMs = gap;
      if (!wasThrottled && gap > THROTTLED_GAP_MS) this.#changed();
    }
  }

  #visibility(): void {
    const now = this.#deps.now();
    if (this.#deps.isHidden()) {
      this.#hiddenSince ??= now;
    } else if (this.#hiddenSince !== undefined) {
      // A tick that never came while hidden shows up as the gap to now: count it before resetting.
      this.#tick();
      this.#hiddenMs += now - this.#hiddenSince;
      this.#hiddenSince = undefined;
    }
    this.#changed();
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}

function browserDeps(): BackgroundWatchDeps {
  return {
    now: () => performance.now(),
    isHidden: () => document.visibilityState === 'hidden',
    onVisibilityChange: (listener) => document.addEventListener('visibilitychange', listener),
    every: (ms, tick) => {
      setInterval(tick, ms);
    },
  };
}

/** One sentence for the Contribute card, or undefined while there is nothing to say. */
export function backgroundText(state: BackgroundState): string | undefined {
  if (state.throttled) {
    return `While this tab was in the background, the browser held it back (up to ${Math.round(state.worstGapMs / 1000)} s between its timers instead of 1 s), so it may have served less then. Keep it in a visible window to lend at full speed.`;
  }
  if (state.hidden) return 'This tab is in the background: browsers may slow it down, so it may serve less until you come back.';
  if (state.hiddenMs > 0) return 'This tab was in the background for a while and the browser did not slow it down.';
  return undefined;
}
