// Serves handleApiRequest from Node's http server: IncomingMessage -> Request (body streamed,
// signal aborted when the client disconnects), Response -> ServerResponse (streamed with
// backpressure, the body cancelled when the socket closes, which stops the generation). A client
// that stops reading holds its queue slot only as long as the write-stall deadline: then its
// connection is closed, which cancels the body, stops its generation and frees the slot.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { ApiContext } from './context.ts';
import { API_PATHS, handleApiRequest } from './handler.ts';

export function toFetchRequest(req: IncomingMessage, signal: AbortSignal): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  return new Request(url, {
    method: req.method,
    headers,
    body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : null,
    signal,
    // @ts-expect-error Node's fetch needs duplex for a streamed request body; the DOM typings lack it
    duplex: 'half',
  });
}

/** A write that cannot drain for this long means the client stopped reading (default; tests shorten it). */
export const WRITE_STALL_MS = 30_000;

export interface SendOptions {
  /** Close the connection when a write has not drained after this many ms (default WRITE_STALL_MS). */
  readonly stallMs?: number;
}

export async function sendFetchResponse(res: ServerResponse, response: Response, options: SendOptions = {}): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  res.writeHead(response.status, headers);
  if (!response.body) return void res.end();
  res.flushHeaders();
  const reader = response.body.getReader();
  const onClose = () => {
    reader.cancel().catch(() => {});
  };
  res.on('close', onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (res.destroyed) return;
      if (!res.write(value) && !(await drained(res, options.stallMs ?? WRITE_STALL_MS))) {
        // Cancelled here: 'close' comes after this returns, when onClose is no longer listening.
        await reader.cancel().catch(() => {});
        res.destroy(new Error('the client stopped reading the response'));
        return;
      }
    }
    res.end();
  } catch {
    res.destroy();
  } finally {
    res.off('close', onClose);
  }
}

/** True once `res` drained (or closed); false when it did not within `stallMs`. */
function drained(res: ServerResponse, stallMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onDrain);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const timer = setTimeout(() => done(false), stallMs);
    res.once('drain', onDrain);
    res.once('close', onDrain);
  });
}

/**
 * The client key for fair queueing: the connection's address, never a header the client chose (one
 * that names itself anew on every request would take a turn per name and starve the others).
 * Mesh members are keyed by their peer id (src/mesh/net/api-stream.ts).
 */
export function queueKey(req: Pick<IncomingMessage, 'socket'>): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** `(req, res) => …` for node:http. */
export function nodeApiHandler(ctx: ApiContext, send: SendOptions = {}): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    const request = toFetchRequest(req, controller.signal);
    const clientKey = queueKey(req);
    try {
      const response = await handleApiRequest(request, ctx, { clientKey });
      if (res.destroyed) {
        await response.body?.cancel().catch(() => {});
        return;
      }
      await sendFetchResponse(res, response, send);
    } catch (e) {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `internal error: ${(e as Error).message}`, type: 'server_error', param: null, code: null } }));
      } else res.destroy();
    }
  };
}

/**
 * The API as entries for a route table of exact paths (the companion's api-server.ts): each entry
 * hands the request to nodeApiHandler. Prefix routes (GET /v1/models/{id}) are not in it.
 */
export function nodeApiRoutes(
  ctx: ApiContext,
): { method: 'GET' | 'POST'; path: string; handle: (c: { req: IncomingMessage; res: ServerResponse }) => Promise<void> }[] {
  const serve = nodeApiHandler(ctx);
  return API_PATHS.filter((p) => !p.path.endsWith('/')).map(({ method, path }) => ({ method, path, handle: ({ req, res }) => serve(req, res) }));
}
