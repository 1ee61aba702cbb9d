// The companion's last line of defence: an error nothing caught (a promise a peer's bad message made
// reject with no handler, a throw in an event callback) is logged, and the process keeps serving.
// Node's default ends the process, so one stranger's malformed gossip could stop every answer in
// flight. Errors that reach here are bugs to fix: the log line says so, with the stack.

export interface GuardedProcess {
  on(event: 'unhandledRejection' | 'uncaughtException', listener: (error: unknown) => void): unknown;
  off(event: 'unhandledRejection' | 'uncaughtException', listener: (error: unknown) => void): unknown;
}

/** Installs the handlers on `proc` (default: this process); returns a function that removes them. */
export function guardProcess(log: (line: string) => void, proc: GuardedProcess = process): () => void {
  const report = (kind: string) => (error: unknown) => {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    log(`${kind} (a bug: please report it), still serving: ${text}`);
  };
  const onRejection = report('unhandled rejection');
  const onException = report('uncaught exception');
  proc.on('unhandledRejection', onRejection);
  proc.on('uncaughtException', onException);
  return () => {
    proc.off('unhandledRejection', onRejection);
    proc.off('uncaughtException', onException);
  };
}
