// Messages between the page and the service worker (workers/service-worker.ts). Versioned so an old
// page talking to a newly installed worker (or the reverse) can tell and ignore what it cannot read.
// Message types were added without a version bump (an old reader ignores a type it does not know):
// bumping would stop an old page's skip-waiting from reaching a new worker.

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

/** A model a page serves to the service worker's /v1, and the priority of the provider serving it. */
export interface ServedModel {
  id: string;
  /** Higher answers first; the companion sits at COMPANION_PRIORITY (src/client/page-api.ts). */
  priority: number;
  /** Which page provider runs it: "tab", "mesh", … (shown in the Playground, sent as x-mesh-via). */
  from: string;
}

/**
 * Page → worker: this page answers /v1 for these models (an empty list withdraws it). Sent whenever
 * its providers change, and again when the worker asks (a restarted worker has forgotten).
 */
export interface ApiServerMessage {
  v: typeof SW_PROTOCOL_VERSION;
  type: 'api-server';
  models: ServedModel[];
}

export type PageToWorkerMessage = SkipWaitingMessage | ShellVersionRequest | ApiServerMessage;
export type WorkerToPageMessage = ShellVersionReply | ApiServerQuery | ApiRequestMessage | ApiServerAck;

/** Worker → page on the 'api-server' message's port: the table is updated, requests may follow. */
export interface ApiServerAck {
  v: typeof SW_PROTOCOL_VERSION;
  type: 'api-server-ack';
}

/** Worker → pages: a worker that started again asks which pages serve /v1. */
export interface ApiServerQuery {
  v: typeof SW_PROTOCOL_VERSION;
  type: 'api-server-query';
}

/**
 * Worker → page, with a MessagePort in `ports[0]`: answer this /v1 request. The page replies on the
 * port with ApiReplyMessages; the worker sends `api-abort` there when the client goes away.
 */
export interface ApiRequestMessage {
  v: typeof SW_PROTOCOL_VERSION;
  type: 'api-request';
  method: string;
  url: string;
  headers: [string, string][];
  /** null for GET and HEAD. */
  body: ArrayBuffer | null;
}

/** Page → worker on the request's port, in order: accepted, head, chunks, then end or error. */
export type ApiReplyMessage =
  | { v: typeof SW_PROTOCOL_VERSION; type: 'api-accepted' }
  | { v: typeof SW_PROTOCOL_VERSION; type: 'api-head'; status: number; statusText: string; headers: [string, string][] }
  | { v: typeof SW_PROTOCOL_VERSION; type: 'api-chunk'; chunk: Uint8Array }
  | { v: typeof SW_PROTOCOL_VERSION; type: 'api-end' }
  /** Before the head: the worker answers the error in the request's protocol; after it: the body breaks. */
  | { v: typeof SW_PROTOCOL_VERSION; type: 'api-error'; message: string };

/** Worker → page on the request's port: the client stopped reading; stop generating. */
export interface ApiAbortMessage {
  v: typeof SW_PROTOCOL_VERSION;
  type: 'api-abort';
}

type Fields = Record<string, unknown>;

function versioned(data: unknown): Fields | null {
  if (typeof data !== 'object' || data === null) return null;
  return (data as Fields).v === SW_PROTOCOL_VERSION ? (data as Fields) : null;
}

function isHeaderList(x: unknown): x is [string, string][] {
  return Array.isArray(x) && x.length <= 256 && x.every((h) => Array.isArray(h) && h.length === 2 && typeof h[0] === 'string' && typeof h[1] === 'string');
}

function isServedModel(x: unknown): x is ServedModel {
  if (typeof x !== 'object' || x === null) return false;
  const m = x as Fields;
  return (
    typeof m.id === 'string' &&
    m.id.length > 0 &&
    m.id.length <= 256 &&
    typeof m.priority === 'number' &&
    Number.isFinite(m.priority) &&
    typeof m.from === 'string' &&
    /^[\w.-]{1,32}$/.test(m.from)
  );
}

export function isPageToWorkerMessage(data: unknown): data is PageToWorkerMessage {
  const m = versioned(data);
  if (!m) return false;
  if (m.type === 'skip-waiting' || m.type === 'shell-version') return true;
  return m.type === 'api-server' && Array.isArray(m.models) && m.models.length <= 1024 && m.models.every(isServedModel);
}

export function isApiServerAck(data: unknown): data is ApiServerAck {
  return versioned(data)?.type === 'api-server-ack';
}

export function isApiServerQuery(data: unknown): data is ApiServerQuery {
  return versioned(data)?.type === 'api-server-query';
}

export function isApiRequestMessage(data: unknown): data is ApiRequestMessage {
  const m = versioned(data);
  if (m?.type !== 'api-request') return false;
  if (typeof m.method !== 'string' || !/^[A-Z]{1,16}$/.test(m.method) || !isHeaderList(m.headers)) return false;
  if (m.body !== null && !(m.body instanceof ArrayBuffer)) return false;
  try {
    return new URL(m.url as string).pathname.startsWith('/v1/');
  } catch {
    return false;
  }
}

export function isApiReplyMessage(data: unknown): data is ApiReplyMessage {
  const m = versioned(data);
  if (!m) return false;
  switch (m.type) {
    case 'api-accepted':
    case 'api-end':
      return true;
    case 'api-head':
      return (
        Number.isInteger(m.status) && (m.status as number) >= 200 && (m.status as number) <= 599 && typeof m.statusText === 'string' && isHeaderList(m.headers)
      );
    case 'api-chunk':
      return m.chunk instanceof Uint8Array;
    case 'api-error':
      return typeof m.message === 'string';
    default:
      return false;
  }
}

export function isApiAbortMessage(data: unknown): data is ApiAbortMessage {
  return versioned(data)?.type === 'api-abort';
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
