// Keeps a long-open tab asking for a new service worker: the browser checks on navigations only, and
// a tab left open for days may never navigate. Checks every `everyMs` while visible and when the tab
// becomes visible again, never closer than `minGapMs` apart; a check that fails (offline) is ignored.

export interface UpdateCheckOptions {
  /** Default: hourly. */
  everyMs?: number;
  /** Default: 10 minutes, so switching tabs back and forth does not fetch sw.js each time. */
  minGapMs?: number;
}

export interface UpdateChecks {
  /** Checks now, whatever the bounds (what a test or a "check for updates" button calls). */
  checkNow(): Promise<void>;
  stop(): void;
}

export interface VisibilitySource {
  readonly visibilityState: DocumentVisibilityState;
  addEventListener(type: 'visibilitychange', listener: () => void): void;
  removeEventListener(type: 'visibilitychange', listener: () => void): void;
}

export function scheduleUpdateChecks(check: () => Promise<unknown>, doc: VisibilitySource, options: UpdateCheckOptions = {}): UpdateChecks {
  const everyMs = options.everyMs ?? 60 * 60_000;
  const minGapMs = options.minGapMs ?? 10 * 60_000;
  // registering the worker has just checked: the first automatic check is one gap away
  let last = Date.now();
  const checkNow = async () => {
    last = Date.now();
    await check().catch(() => undefined);
  };
  const maybe = () => {
    if (doc.visibilityState === 'visible' && Date.now() - last >= minGapMs) void checkNow().catch(() => {});
  };
  const timer = setInterval(maybe, everyMs);
  doc.addEventListener('visibilitychange', maybe);
  return {
    checkNow,
    stop() {
      clearInterval(timer);
      doc.removeEventListener('visibilitychange', maybe);
    },
  };
}
