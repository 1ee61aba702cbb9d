// The mesh API stream: a member's /v1 request carried to the mesh's head over one libp2p stream, and
// the head's HTTP answer streamed back. HTTP is carried as it is (method, path, a few headers, body;
// status, headers, body chunks), so every protocol detail (OpenAI and Anthropic shapes, SSE, errors,
// Retry-After) is the head's own API's, unchanged. Each message is one length-prefixed frame whose
// first byte is its kind:
//   client → head: REQUEST (JSON head, declares bodyBytes), then BODY frames holding exactly bodyBytes
//   head → client: RESPONSE (JSON head), BODY frames, END (the answer is whole; a stream that closes
//   without it was cut off)
// Every frame is checked here, size first, and a bad one is rejected with a reason, never thrown.
import { checked, field, num, object, oneOf, reject, rejected, str, type Checked, type Json } from './mesh-checks.ts';

/** Largest body chunk in one frame: a token's SSE event is far smaller, a whole JSON answer is cut up. */
export const MAX_API_CHUNK_BYTES = 64 * 1024;
/** Largest frame of any kind (a chunk and its kind byte); FrameStream refuses longer ones unread. */
export const MAX_API_FRAME_BYTES = MAX_API_CHUNK_BYTES + 1;
/**
 * Largest request body carried: twice the API's default limit, so the head's API answers a body
 * between the two with its own 413 in the caller's protocol; a larger one is not sent at all.
 */
export const MAX_API_BODY_BYTES = 8 * 1024 * 1024;
const MAX_HEADERS = 32;
const MAX_PATH = 2048;
const MAX_HEADER_VALUE = 4096;

/** Request headers a client carries to the head: what decides the API's behaviour and error shape. No credentials: membership is the credential. */
export const CARRIED_REQUEST_HEADERS: readonly string[] = ['accept', 'anthropic-beta', 'anthropic-version', 'content-type'];

export const API_METHODS = ['GET', 'HEAD', 'POST'] as const;
export type ApiMethod = (typeof API_METHODS)[number];

export type ApiStreamFrame =
  | { readonly kind: 'request'; readonly method: ApiMethod; readonly path: string; readonly headers: Record<string, string>; readonly bodyBytes: number }
  | { readonly kind: 'response'; readonly status: number; readonly headers: Record<string, string> }
  | { readonly kind: 'body'; readonly bytes: Uint8Array }
  | { readonly kind: 'end' };

const KIND = { request: 1, body: 2, end: 3, response: 4 } as const;
const KIND_NAME: Record<number, ApiStreamFrame['kind']> = { 1: 'request', 2: 'body', 3: 'end', 4: 'response' };
/** Which side may send which kinds. */
const SENT_BY: Record<'client' | 'head', readonly ApiStreamFrame['kind'][]> = { client: ['request', 'body'], head: ['response', 'body', 'end'] };

export function encodeApiFrame(frame: ApiStreamFrame): Uint8Array {
  if (frame.kind === 'body') {
    const out = new Uint8Array(frame.bytes.length + 1);
    out[0] = KIND.body;
    out.set(frame.bytes, 1);
    return out;
  }
  if (frame.kind === 'end') return Uint8Array.of(KIND.end);
  const { kind, ...head } = frame;
  const json = new TextEncoder().encode(JSON.stringify(head));
  const out = new Uint8Array(json.length + 1);
  out[0] = KIND[kind];
  out.set(json, 1);
  return out;
}

/** Checks a frame `from` one side; a kind that side may not send is refused. */
export function readApiFrame(bytes: unknown, from: 'client' | 'head'): Checked<ApiStreamFrame> {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) return rejected('malformed', 'an API stream frame is at least one byte (its kind)');
  if (bytes.length > MAX_API_FRAME_BYTES) return rejected('too_large', `an API stream frame is at most ${MAX_API_FRAME_BYTES} bytes, got ${bytes.length}`);
  const kind = KIND_NAME[bytes[0]];
  if (!kind) return rejected('malformed', `unknown API stream frame kind ${bytes[0]}`);
  if (!SENT_BY[from].includes(kind)) return rejected('malformed', `a ${from === 'client' ? 'client' : 'head'} does not send ${kind} frames`);
  const payload = bytes.subarray(1);
  if (kind === 'body')
    return payload.length > 0 ? { ok: true, value: { kind, bytes: payload } } : rejected('malformed', 'a body frame holds at least one byte');
  if (kind === 'end') return payload.length === 0 ? { ok: true, value: { kind } } : rejected('malformed', 'an end frame holds nothing');
  return checked(() => {
    const o = object(parseJson(payload), kind);
    if (kind === 'response')
      return { kind, status: num(o, 'status', kind, { min: 200, max: 599, integer: true }), headers: headerMap(field(o, 'headers'), `${kind}.headers`) };
    const path = str(o, 'path', kind, {
      max: MAX_PATH,
      min: 3,
      pattern: /^\/v1(\/[\x21-\x7e]*)?(\?[\x21-\x7e]*)?$/,
      shape: 'an API path under /v1 (printable ASCII, no spaces)',
    });
    if (path.includes('#')) reject('malformed', `${kind}.path may not hold a fragment`);
    return {
      kind,
      method: oneOf(o, 'method', kind, API_METHODS),
      path,
      headers: headerMap(field(o, 'headers'), `${kind}.headers`),
      bodyBytes: num(o, 'bodyBytes', kind, { min: 0, max: MAX_API_BODY_BYTES, integer: true }),
    };
  });
}

function parseJson(payload: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    return reject('malformed', 'the frame is not UTF-8 JSON');
  }
}

function headerMap(v: unknown, path: string): Record<string, string> {
  const o: Json = object(v, path);
  const names = Object.keys(o);
  if (names.length > MAX_HEADERS) reject('too_large', `${path} has ${names.length} headers; at most ${MAX_HEADERS} are carried`);
  const out: Record<string, string> = Object.create(null);
  for (const name of names) {
    if (!/^[a-z0-9-]{1,64}$/.test(name)) reject('malformed', `${path} has a header name "${name.slice(0, 64)}" that is not lowercase letters, digits and "-"`);
    out[name] = str(o, name, path, { max: MAX_HEADER_VALUE, pattern: /^[\x20-\x7e]*$/, shape: 'printable ASCII' });
  }
  return out;
}
