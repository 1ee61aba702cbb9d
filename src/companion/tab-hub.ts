// The companion's /attach WebSocket endpoint (on the API port) and the tabs attached through it, as
// a ModelProvider: the models tabs announce are listed and served by forwarding generations to the
// least busy tab that holds them. Only pages of the allowed origins may attach (and, when the API
// needs a bearer token, offered as a WebSocket subprotocol, never in the URL); a bad frame gets an error frame, a bad hello closes the socket.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { GenerateRequest, Generation, ModelDescriptor, ModelProvider, ModelText } from '../provider/provider.ts';
import { ApiError } from '../protocol/api-error.ts';
import {
  MAX_TAB_FRAME_BYTES,
  readTabMessage,
  TAB_ATTACH_PATH,
  TAB_ATTACH_SUBPROTOCOL,
  TAB_ATTACH_VERSION,
  tokenFromProtocols,
  type CompanionMessage,
} from '../protocol/tab-attach.ts';
import { sameToken } from './api-auth.ts';
import { isAllowedOrigin } from './api-server.ts';
import { TabConnection } from './tab-connection.ts';

export interface TabHubOptions {
  /** Origins whose pages may attach (the app's own, plus --cors-origin ones). */
  allowedOrigins: () => readonly string[];
  /** The API's bearer token, required (as the subprotocol token.<hex>) when set. */
  token: string | null;
  /** How long a tab may go without answering a ping before it counts as gone. Default 15 s. */
  heartbeatMs?: number;
  log?: (line: string) => void;
}

/** A tab must say hello this soon after connecting. */
const HELLO_TIMEOUT_MS = 10_000;

export class TabHub implements ModelProvider {
  private readonly options: TabHubOptions;
  // Answers with the protocol's name, never echoing the token entry.
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_TAB_FRAME_BYTES,
    handleProtocols: (protocols) => (protocols.has(TAB_ATTACH_SUBPROTOCOL) ? TAB_ATTACH_SUBPROTOCOL : false),
  });
  private readonly tabs = new Set<TabConnection>();
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private readonly alive = new WeakMap<WebSocket, boolean>();

  constructor(options: TabHubOptions) {
    this.options = options;
    this.heartbeat = setInterval(() => this.ping(), options.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  /** Tabs attached now, for /health and tests. */
  get attached(): { peer: string; models: string[]; busy: number }[] {
    return [...this.tabs].map((t) => ({ peer: t.peer, models: [...t.models.keys()], busy: t.busy }));
  }

  /** Takes an HTTP upgrade for /attach; false (untouched) for any other path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://api.invalid');
    if (url.pathname !== TAB_ATTACH_PATH) return false;
    const origin = req.headers.origin;
    const refuse = (status: number, why: string) => {
      socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${why}\n`);
    };
    if (!origin || !isAllowedOrigin(origin, this.options.allowedOrigins())) {
      refuse(403, `only pages of the app's origin may attach (got ${origin ?? 'no Origin'}); start the companion with --cors-origin <origin> to allow another`);
      return true;
    }
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    const given = tokenFromProtocols(offered);
    if (this.options.token !== null && (given === undefined || !sameToken(given, this.options.token))) {
      refuse(401, `this companion requires its API token: offer it as the subprotocol token.<hex> beside ${TAB_ATTACH_SUBPROTOCOL} (never in the URL)`);
      return true;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
    return true;
  }

  private accept(ws: WebSocket): void {
    let tab: TabConnection | null = null;
    const send = (m: CompanionMessage) => ws.send(JSON.stringify(m));
    const helloTimer = setTimeout(() => ws.close(1008, 'no hello'), HELLO_TIMEOUT_MS);
    this.alive.set(ws, true);
    ws.on('pong', () => this.alive.set(ws, true));
    ws.on('message', (data, isBinary) => {
      const m = readTabMessage(isBinary ? null : data.toString());
      if (!m.ok) {
        send({ type: 'error', code: m.code, message: m.reason });
        if (!tab) ws.close(1008, 'bad hello');
        return;
      }
      const message = m.value;
      if (message.type === 'hello') {
        if (tab) return send({ type: 'error', code: 'malformed', message: 'hello was already said on this connection' });
        clearTimeout(helloTimer);
        try {
          tab = new TabConnection(ws, this.uniquePeer(message.tab), message.models);
        } catch (error) {
          send({ type: 'error', code: 'unusable_model', message: `a model's tokenizer cannot be used here: ${(error as Error).message}` });
          return void ws.close(1008, 'unusable model');
        }
        this.tabs.add(tab);
        this.options.log?.(`tab ${tab.peer} attached, serving ${[...tab.models.keys()].join(', ')}`);
        return send({ type: 'welcome', version: TAB_ATTACH_VERSION, peer: tab.peer });
      }
      if (!tab) {
        send({ type: 'error', code: 'malformed', message: 'say hello first' });
        return void ws.close(1008, 'no hello');
      }
      tab.receive(message);
    });
    const gone = (why: string) => {
      clearTimeout(helloTimer);
      if (!tab || !this.tabs.delete(tab)) return;
      tab.closeRuns(why);
      this.options.log?.(`tab ${tab.peer} left (${why})`);
    };
    ws.on('close', (code) => gone(`connection closed, code ${code}`));
    ws.on('error', (error) => gone(error.message));
  }

  private ping(): void {
    for (const ws of this.wss.clients) {
      if (!this.alive.get(ws)) {
        ws.terminate(); // its 'close' fails the tab's open generations
        continue;
      }
      this.alive.set(ws, false);
      ws.ping();
    }
  }

  private uniquePeer(name: string): string {
    const taken = new Set([...this.tabs].map((t) => t.peer));
    let peer = `tab-${name}`;
    for (let i = 2; taken.has(peer); i++) peer = `tab-${name}-${i}`;
    return peer;
  }

  serves(model: string): boolean {
    return [...this.tabs].some((t) => t.models.has(model));
  }

  listModels(): ModelDescriptor[] {
    const seen = new Map<string, ModelDescriptor>();
    for (const t of this.tabs) for (const [id, m] of t.models) if (!seen.has(id)) seen.set(id, m.descriptor);
    return [...seen.values()];
  }

  async modelText(model: string): Promise<ModelText> {
    return this.pick(model).models.get(model)!.text;
  }

  async generate(request: GenerateRequest): Promise<Generation> {
    return this.pick(request.model).generate(request);
  }

  /** The least busy tab holding the model. */
  private pick(model: string): TabConnection {
    let best: TabConnection | null = null;
    for (const t of this.tabs) if (t.models.has(model) && (!best || t.busy < best.busy)) best = t;
    if (!best) throw new ApiError('unavailable', `no attached tab serves "${model}" any more; retry`, { code: 'no_model_available', retryAfter: 1 });
    return best;
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
