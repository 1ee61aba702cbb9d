// The service worker's side of the /v1 bridge: it cannot hold an engine (no WebGPU guarantee, and it
// is stopped when idle), so a /v1 request for a model a page serves is handed to that page over a
// MessageChannel, and the page's Response streams back chunk by chunk; a client that goes away
// aborts the page's generation. Pages say what they serve with an 'api-server' message; the most
// recent one serving the model answers. A restarted worker has forgotten them and asks once.
import type { LocalApi } from '../../src/client/page-api.ts';
import { ApiError } from '../../src/protocol/api-error.ts';
import {
  isApiReplyMessage,
  SW_PROTOCOL_VERSION,
  type ApiAbortMessage,
  type ApiReplyMessage,
  type ApiRequestMessage,
  type ApiServerMessage,
  type ApiServerQuery,
  type ServedModel,
} from '../../src/protocol/service-worker-messages.ts';

/** The part of a window client and of `clients` the bridge uses (tests pass fakes). */
export interface BridgeClient {
  readonly id: string;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}
export interface BridgeClients {
  get(id: string): Promise<BridgeClient | undefined>;
  matchAll(): Promise<readonly BridgeClient[]>;
}

export interface ApiBridgeOptions {
  clients: BridgeClients;
  /** How long a page has to acknowledge a request before it counts as gone. */
  acceptMs?: number;
  /** How long a restarted worker waits for pages to say what they serve. */
  askMs?: number;
  /** Renders a failure in the request's protocol (handler.ts errorResponse). */
  errorResponse: (error: ApiError, request: Request) => Response;
}

interface Server {
  models: ServedModel[];
  at: number;
}

export class ApiBridge implements LocalApi {
  readonly #servers = new Map<string, Server>();
  readonly #o: ApiBridgeOptions;
  #asked: Promise<void> | undefined;
  #heard: (() => void) | undefined;
  #order = 0;

  constructor(options: ApiBridgeOptions) {
    this.#o = options;
  }

  /** An 'api-server' message from a page (validated by the caller). */
  onServer(clientId: string, message: ApiServerMessage): void {
    if (message.models.length === 0) this.#servers.delete(clientId);
    else this.#servers.set(clientId, { models: message.models, at: ++this.#order });
    this.#heard?.();
  }

  async served(): Promise<ServedModel[]> {
    await this.#askOnce();
    const seen = new Set<string>();
    const out: ServedModel[] = [];
    for (const [id, s] of this.#byRecency()) {
      if (!(await this.#o.clients.get(id))) {
        this.#servers.delete(id); // closed without withdrawing
        continue;
      }
      for (const m of s.models) {
        if (seen.has(m.id)) continue;
        seen.add(m.id);
        out.push(m);
      }
    }
    return out;
  }

  /** Hands the request to the most recent live page serving its model (or any, for lists). */
  async serve(request: Request): Promise<Response> {
    const body = request.method === 'GET' || request.method === 'HEAD' ? null : await request.arrayBuffer();
    const model = body ? modelOf(body) : undefined;
    const servedBefore = model === undefined || [...this.#servers.values()].some((s) => s.models.some((m) => m.id === model));
    for (const [id, s] of this.#byRecency()) {
      if (model !== undefined && !s.models.some((m) => m.id === model)) continue;
      const client = await this.#o.clients.get(id);
      if (!client) {
        this.#servers.delete(id); // closed without withdrawing
        continue;
      }
      const answer = await this.#ask(client, request, body);
      if (answer) return answer;
      this.#servers.delete(id); // did not acknowledge: frozen or gone
    }
    const why = servedBefore
      ? 'the tab that ran this model has closed or stopped answering; open the app and choose "Use in this tab" again, then retry'
      : `no tab of this app serves "${model}" and no companion answered; open Models and choose "Use in this tab" for it, or join a mesh that serves it, then retry`;
    return this.#o.errorResponse(new ApiError('unavailable', why, { code: 'no_model_available', retryAfter: 5 }), request);
  }

  #byRecency(): [string, Server][] {
    return [...this.#servers].sort((a, b) => b[1].at - a[1].at);
  }

  /** Once per worker life, unless a page spoke first: the first answer ends the wait. */
  #askOnce(): Promise<void> {
    if (this.#servers.size > 0) this.#asked ??= Promise.resolve();
    this.#asked ??= (async () => {
      const query: ApiServerQuery = { v: SW_PROTOCOL_VERSION, type: 'api-server-query' };
      const pages = await this.#o.clients.matchAll();
      if (pages.length === 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#o.askMs ?? 300);
        this.#heard = () => {
          clearTimeout(timer);
          resolve();
        };
        for (const page of pages) page.postMessage(query);
      });
      this.#heard = undefined;
    })();
    return this.#asked;
  }

  /** The page's Response, or undefined when it does not acknowledge in time. */
  #ask(client: BridgeClient, request: Request, body: ArrayBuffer | null): Promise<Response | undefined> {
    const channel = new MessageChannel();
    const port = channel.port1;
    const headers: [string, string][] = [];
    request.headers.forEach((value, name) => headers.push([name, value]));
    const message: ApiRequestMessage = {
      v: SW_PROTOCOL_VERSION,
      type: 'api-request',
      method: request.method,
      url: request.url,
      headers,
      body: body?.slice(0) ?? null,
    };
    const abort = () => {
      const m: ApiAbortMessage = { v: SW_PROTOCOL_VERSION, type: 'api-abort' };
      port.postMessage(m);
      port.close();
    };
    return new Promise<Response | undefined>((resolve) => {
      let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
      let settled = false;
      const settle = (r: Response | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(() => {
        port.close();
        settle(undefined);
      }, this.#o.acceptMs ?? 3000);
      request.signal.addEventListener('abort', abort, { once: true });
      const finish = () => {
        request.signal.removeEventListener('abort', abort);
        port.close();
      };
      port.onmessage = (event: MessageEvent) => {
        if (!isApiReplyMessage(event.data)) return;
        const m: ApiReplyMessage = event.data;
        switch (m.type) {
          case 'api-accepted':
            clearTimeout(timer);
            return;
          case 'api-head': {
            const stream = new ReadableStream<Uint8Array>({
              start: (c) => {
                controller = c;
              },
              cancel: () => {
                abort();
                finish();
              },
            });
            settle(new Response(request.method === 'HEAD' ? null : stream, { status: m.status, statusText: m.statusText, headers: m.headers }));
            return;
          }
          case 'api-chunk':
            controller?.enqueue(m.chunk);
            return;
          case 'api-end':
            controller?.close();
            finish();
            return;
          case 'api-error':
            finish();
            if (controller) controller.error(new TypeError(`the tab serving this request failed: ${m.message}`));
            else settle(this.#o.errorResponse(new ApiError('internal', `the tab serving this model failed: ${m.message}`), request));
            return;
        }
      };
      client.postMessage(message, [channel.port2, ...(message.body ? [message.body] : [])]);
    });
  }
}

function modelOf(body: ArrayBuffer): string | undefined {
  try {
    const m = (JSON.parse(new TextDecoder().decode(body)) as { model?: unknown })?.model;
    return typeof m === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}
