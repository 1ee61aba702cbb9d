// Bounds a library's load: some never settle on an unreachable host (a stalled fetch, a hung worker),
// so a load either finishes, is aborted by the caller, or fails with a timeout error, never hangs.
import { AdapterError } from './errors.ts';

export interface DeadlineOptions {
  /** Milliseconds; undefined or Infinity waits as long as the library does. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** What is being waited for, for the timeout message. */
  readonly what: string;
  /** Called once when the wait is given up (timeout or abort), to release what the library holds. */
  readonly onGiveUp?: () => void;
}

export function withDeadline<T>(work: Promise<T>, o: DeadlineOptions): Promise<T> {
  o.signal?.throwIfAborted();
  const limited = o.timeoutMs !== undefined && Number.isFinite(o.timeoutMs);
  if (!limited && !o.signal) return work;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      f();
    };
    const giveUp = (reason: unknown) =>
      finish(() => {
        work.catch(() => {}); // the library's own rejection comes later and means nothing now
        o.onGiveUp?.();
        reject(reason);
      });
    const onAbort = () => giveUp(o.signal!.reason);
    const timer = limited
      ? setTimeout(
          () =>
            giveUp(
              new AdapterError(
                'adapter_load_timeout',
                `${o.what} did not finish within ${o.timeoutMs} ms: check that the URL is reachable from this page, or allow a longer timeout`,
              ),
            ),
          o.timeoutMs,
        )
      : undefined;
    o.signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => finish(() => resolve(v)),
      (e) => finish(() => reject(e)),
    );
  });
}
