// /v1 over the mesh: a member (a client or server tab) sends its API requests to the mesh's head on
// API_PROTOCOL (frames of src/protocol/mesh-api.ts) and reads the head's answer as a streamed
// Response. The head serves them with the same API and provider as its HTTP /v1, queued fairly by
// peer id. Closing or aborting the stream at either end ends the request at the other: the client
// resets it to abort, which aborts the head's Request signal and cancels its response body, so the
// generation stops within a token, as when an HTTP client disconnects.
import type { Stream } from '@libp2p/interface';
import { MeshError } from '../../protocol/errors.ts';
import {
  CARRIED_REQUEST_HEADERS,
  encodeApiFrame,
  MAX_API_BODY_BYTES,
  MAX_API_CHUNK_BYTES,
  MAX_API_FRAME_BYTES,
  readApiFrame,
  type ApiMethod,
  type ApiStreamFrame,
} from '../../protocol/mesh-api.ts';
import { FrameStream } from './frame-stream.ts';
import type { MeshNode } from './mesh-node.ts';
import { API_PROTOCOL } from './protocols.ts';

/** How the head answers a request: its HTTP API (handleApiRequest), with the asking peer as the queue's client key. */
export type ApiServe = (request: Request, info: { clientKey: string }) => Promise<Response>;

/** A member's request head and body must arrive within this (a stalled one holds no slot for long). */
const REQUEST_TIMEOUT_MS = 30_000;
/** API streams one peer may hold open at once, per connection: the rest wait in the queue or are refused. */
const MAX_STREAMS_PER_PEER = 32;
/** Response headers that describe the HTTP connection, not the answer. */
const HOP_BY_HOP = new Set(['connection', 'content-length', 'keep-alive', 'transfer-encoding']);

/** Answers API_PROTOCOL streams from this node's members with `serve`. */
export async function serveMeshApi(node: MeshNode, serve: ApiServe, log?: (line: string) => void): Promise<void> {
  await node.handleForMembers(API_PROTOCOL, (stream, connection) => answer(stream, connection.remotePeer.toString(), serve, log), {
    maxInboundStreams: MAX_STREAMS_PER_PEER,
  });
}

async function answer(stream: Stream, peerId: string, serve: ApiServe, log?: (line: string) => void): Promise<void> {
  const frames = new FrameStream(stream, MAX_API_FRAME_BYTES);
  const gone = new AbortController();
  let finished = false;
  stream.addEventListener('close', () => {
    if (!finished) gone.abort(new DOMException('the member closed the API stream', 'AbortError'));
  });
  let request: Request;
  try {
    request = await readRequest(frames, gone.signal);
  } catch (error) {
    log?.(`mesh api: refused a request from ${peerId}: ${(error as Error).message}`);
    return void stream.abort(error as Error);
  }
  let response: Response;
  try {
    response = await serve(request, { clientKey: peerId });
  } catch (error) {
    // handleApiRequest answers its own failures in the caller's protocol; this is a bug, said plainly.
    response = Response.json(
      { error: { message: `internal error: ${(error as Error).message}`, type: 'server_error', param: null, code: null } },
      { status: 500 },
    );
  }
  const reader = response.body?.getReader();
  const cancel = () => reader?.cancel().catch(() => {});
  gone.signal.addEventListener('abort', cancel, { once: true });
  try {
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      if (!HOP_BY_HOP.has(name)) headers[name] = value;
    });
    await frames.write(encodeApiFrame({ kind: 'response', status: response.status, headers }), gone.signal);
    for (;;) {
      const chunk = reader ? await reader.read() : { done: true as const };
      if (chunk.done) break;
      for (let at = 0; at < chunk.value.length; at += MAX_API_CHUNK_BYTES) {
        await frames.write(encodeApiFrame({ kind: 'body', bytes: chunk.value.subarray(at, at + MAX_API_CHUNK_BYTES) }), gone.signal);
      }
    }
    await frames.write(encodeApiFrame({ kind: 'end' }), gone.signal);
    finished = true;
    await stream.close().catch(() => {});
  } catch (error) {
    cancel();
    if (!gone.signal.aborted) stream.abort(error as Error);
  } finally {
    gone.signal.removeEventListener('abort', cancel);
  }
}

/** The request head, then exactly its declared body; anything else is refused (and the stream reset). */
async function readRequest(frames: FrameStream, gone: AbortSignal): Promise<Request> {
  const signal = AbortSignal.any([gone, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]);
  const head = next(await frames.read(signal));
  if (head.kind !== 'request') throw new MeshError('mesh_api_bad_frame', `the first frame of an API stream is its request, got a ${head.kind} frame`);
  const body = head.bodyBytes > 0 ? new Uint8Array(head.bodyBytes) : null;
  for (let got = 0; body && got < body.length; ) {
    const frame = next(await frames.read(signal));
    if (frame.kind !== 'body') throw new MeshError('mesh_api_bad_frame', `a request body frame was expected, got a ${frame.kind} frame`);
    if (got + frame.bytes.length > body.length)
      throw new MeshError('mesh_api_bad_frame', `the request body runs past the ${body.length} bytes its request declared`);
    body.set(frame.bytes, got);
    got += frame.bytes.length;
  }
  const headers = new Headers();
  for (const name of CARRIED_REQUEST_HEADERS) if (head.headers[name] !== undefined) headers.set(name, head.headers[name]);
  return new Request(`http://mesh.invalid${head.path}`, {
    method: head.method,
    headers,
    body: head.method === 'POST' ? (body ?? new Uint8Array(0)) : null,
    signal: gone,
  });
}

function next(bytes: Uint8Array): ApiStreamFrame & { kind: 'request' | 'body' } {
  const checked = readApiFrame(bytes, 'client');
  if (!checked.ok) throw new MeshError('mesh_api_bad_frame', `a malformed API stream frame: ${checked.reason}`);
  return checked.value as ApiStreamFrame & { kind: 'request' | 'body' };
}

/**
 * Sends `request` to the head over a stream `open` makes, and resolves with its answer once the
 * response head arrives; the body streams as the head writes it. Aborting `request.signal` or
 * cancelling the body resets the stream (the head stops generating). Rejects with a MeshError when
 * the head cannot be reached or the body is too large to carry.
 */
export async function meshApiFetch(open: (signal: AbortSignal) => Promise<Stream>, request: Request): Promise<Response> {
  const url = new URL(request.url);
  const method = request.method.toUpperCase() as ApiMethod;
  if (method !== 'GET' && method !== 'HEAD' && method !== 'POST')
    throw new MeshError('mesh_api_method', `${request.method} cannot be sent to the mesh; the API takes GET and POST`);
  const body = method === 'POST' ? new Uint8Array(await request.arrayBuffer()) : new Uint8Array(0);
  if (body.length > MAX_API_BODY_BYTES)
    throw new MeshError(
      'mesh_api_body_too_large',
      `the request body is ${body.length} bytes; the mesh carries at most ${MAX_API_BODY_BYTES}: shorten the conversation`,
    );
  const headers: Record<string, string> = {};
  for (const name of CARRIED_REQUEST_HEADERS) {
    const value = request.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  const signal = request.signal;
  signal.throwIfAborted();
  let stream: Stream;
  try {
    stream = await open(signal);
  } catch (error) {
    signal.throwIfAborted();
    throw new MeshError(
      'mesh_head_unreachable',
      `the mesh's head did not open an API stream (${(error as Error).message}); it may be restarting: retry, or leave and join again`,
      { cause: error },
    );
  }
  const frames = new FrameStream(stream, MAX_API_FRAME_BYTES);
  const abort = () => stream.abort(new Error('the client aborted the request'));
  signal.addEventListener('abort', abort, { once: true });
  try {
    await frames.write(encodeApiFrame({ kind: 'request', method, path: `${url.pathname}${url.search}`, headers, bodyBytes: body.length }), signal);
    for (let at = 0; at < body.length; at += MAX_API_CHUNK_BYTES) {
      await frames.write(encodeApiFrame({ kind: 'body', bytes: body.subarray(at, at + MAX_API_CHUNK_BYTES) }), signal);
    }
    await stream.close({ signal }).catch(() => {});
    const head = answerFrame(await frames.read(signal));
    if (head.kind !== 'response') throw new MeshError('mesh_api_bad_frame', `the head's answer began with a ${head.kind} frame, not its response`);
    const nullBody = method === 'HEAD' || head.status === 204 || head.status === 304;
    return new Response(nullBody ? null : responseBody(frames, stream, signal, abort), { status: head.status, headers: head.headers });
  } catch (error) {
    signal.removeEventListener('abort', abort);
    stream.abort(error as Error);
    signal.throwIfAborted();
    throw error instanceof MeshError
      ? error
      : new MeshError('mesh_api_cut', `the API stream to the head broke before its answer (${(error as Error).message}); retry`, { cause: error });
  }
}

function responseBody(frames: FrameStream, stream: Stream, signal: AbortSignal, abort: () => void): ReadableStream<Uint8Array> {
  const done = () => signal.removeEventListener('abort', abort);
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          // An aborted request reads nothing more, even frames that had already arrived (as fetch does).
          signal.throwIfAborted();
          const frame = answerFrame(await frames.read(signal));
          if (frame.kind === 'body') return controller.enqueue(frame.bytes);
          if (frame.kind !== 'end') throw new MeshError('mesh_api_bad_frame', `a ${frame.kind} frame in the middle of the head's answer`);
          done();
          controller.close();
        } catch (error) {
          done();
          stream.abort(error as Error);
          controller.error(
            signal.aborted
              ? signal.reason
              : new MeshError('mesh_api_cut', `the head's answer was cut off (${(error as Error).message}); retry`, { cause: error }),
          );
        }
      },
      cancel() {
        done();
        stream.abort(new Error('the client stopped reading the answer'));
      },
    },
    { highWaterMark: 0 },
  );
}

function answerFrame(bytes: Uint8Array): ApiStreamFrame {
  const checked = readApiFrame(bytes, 'head');
  if (!checked.ok) throw new MeshError('mesh_api_bad_frame', `the head sent a malformed API stream frame: ${checked.reason}`);
  return checked.value;
}
