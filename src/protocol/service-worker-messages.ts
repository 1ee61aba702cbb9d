// Messages between the page and the service worker (workers/service-worker.ts). Versioned so an old
// page talking to a newly installed worker (or the reverse) can tell and ignore what it cannot read.

export const SW_PROTOCOL_VERSION = 1;

/** Page → worker: a waiting worker takes over only when the page asks (the update prompt sends this). */
export interface SkipWaitingMessage {
  v: typeof SW_PROTOCOL_VERSION;
  type: 'skip-waiting';
}

/** Page → worker: which shell build is cached, so the UI can show the running version. */
export interface ShellVersionRequest {
  v: typeof SW_PROTOCOL_VERSION;
  type: 'shell-version';
}

export interface ShellVersionReply {
  v: typeof SW_PROTOCOL_VERSION;
  type: 'shell-version';
  version: string;
  cache: string;
  files: number;
}

export type PageToWorkerMessage = SkipWaitingMessage | ShellVersionRequest;
export type WorkerToPageMessage = ShellVersionReply;

export function isPageToWorkerMessage(data: unknown): data is PageToWorkerMessage {
  if (typeof data !== 'object' || data === null) return false;
  const message = data as { v?: unknown; type?: unknown };
  return message.v === SW_PROTOCOL_VERSION && (message.type === 'skip-waiting' || message.type === 'shell-version');
}

/** What the build injects into sw.js: the shell's files and a version that changes when any of them does. */
export interface PrecacheManifest {
  version: string;
  /** URLs relative to the worker's scope; './' stands for the app's start page. */
  files: string[];
  /**
   * A content hash per entry of `files`: a new version copies the files whose hash it already holds
   * from the old cache and downloads only the others.
   */
  hashes: Record<string, string>;
}
