// Serving models from this tab to the companion: loads each model into an Engine in the page, opens
// the companion's /attach WebSocket, announces the models (with their tokenizer metadata) and runs
// the generations the companion forwards, one token frame at a time, never more than the granted
// window ahead, stopping within one token of an abort. Generations go through an EngineProvider, so a
// conversation's next turn reuses the KV cache of its prefix here too. Started by `?serve-tab=<model>` (see
// serveTabFromLink) or by calling startTabServe, e.g. from a test page.
import { EngineProvider } from '../provider/engine-provider.ts';
import { Engine, type BackendName } from '../engine/engine.ts';
import {
  encodeTokenizerMetadata,
  readCompanionMessage,
  TAB_ATTACH_PATH,
  TAB_ATTACH_VERSION,
  type CompanionMessage,
  type TabMessage,
  attachProtocols,
} from '../protocol/tab-attach.ts';
import { openModelUrl } from '../storage/shared-cache.ts';

/** The part of the WebSocket API this module uses (the browser's, or the `ws` package's in Node tests). */
export interface TabSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (event: { data?: unknown; code?: number }) => void): void;
}

export interface TabServeOptions {
  /** The companion's API origin, e.g. http://127.0.0.1:9337 (the socket goes to ws://…/attach). */
  api: string;
  /** Models to serve: a URL to load (relative to the page) or an Engine already loaded. */
  models: { id: string; source: string | URL | Engine }[];
  /** Shown in x-mesh-served-by as tab-<name>. Default: a random one. */
  name?: string;
  /** The companion's API token, when it requires one. */
  token?: string;
  /** Kernels for models loaded here. Default 'cpu' (WASM). */
  backend?: BackendName;
  /** Opens the socket; default `new WebSocket(url)`. */
  connect?: (url: string, protocols: string[]) => TabSocket;
  log?: (line: string) => void;
}

export type TabRequestState = 'running' | 'done' | 'aborted' | 'failed';

/** What the tab did for one forwarded request, for the UI and tests. */
export interface TabRequestLog {
  id: string;
  model: string;
  maxTokens: number;
  produced: number;
  state: TabRequestState;
}

export interface TabServe {
  /** The name the companion gave this tab (x-mesh-served-by). */
  peer: string;
  readonly requests: TabRequestLog[];
  /** Resolves when the socket has closed (stop(), the companion stopping, a network error). */
  closed: Promise<void>;
  stop(): Promise<void>;
}

export class TabServeError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TabServeError';
    this.code = code;
  }
}

interface Running {
  log: TabRequestLog;
  controller: AbortController;
  /** Tokens the companion allows in total so far (window + pulls). */
  allowed: number;
  wake: (() => void) | null;
}

export async function startTabServe(o: TabServeOptions): Promise<TabServe> {
  const engines = new Map<string, Engine>();
  const owned: Engine[] = [];
  for (const m of o.models) {
    if (m.source instanceof Engine) engines.set(m.id, m.source);
    else {
      const url = typeof location === 'undefined' ? new URL(String(m.source)) : new URL(String(m.source), location.href);
      const engine = await Engine.load(await openModelUrl(url.href), { backend: o.backend ?? 'cpu' }); // through the weight cache
      owned.push(engine);
      engines.set(m.id, engine);
    }
  }
  const wsUrl = new URL(TAB_ATTACH_PATH, o.api);
  wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
  // yields to the event loop between tokens, so an abort frame is seen within one token
  const provider = new EngineProvider([...engines].map(([id, engine]) => ({ id, engine })));
  const socket = (o.connect ?? ((url, protocols) => new WebSocket(url, protocols) as unknown as TabSocket))(String(wsUrl), attachProtocols(o.token));
  const send = (m: TabMessage) => {
    if (socket.readyState === 1) socket.send(JSON.stringify(m));
  };
  const requests: TabRequestLog[] = [];
  const running = new Map<string, Running>();
  const loops = new Set<Promise<void>>();

  let closedResolve!: () => void;
  const closed = new Promise<void>((resolve) => {
    closedResolve = resolve;
  });
  let welcome!: { resolve: (peer: string) => void; reject: (e: Error) => void };
  const welcomed = new Promise<string>((resolve, reject) => {
    welcome = { resolve, reject };
  });

  async function run(m: Extract<CompanionMessage, { type: 'generate' }>): Promise<void> {
    const engine = engines.get(m.model);
    if (!engine) return send({ type: 'error', id: m.id, code: 'unknown_model', message: `this tab does not serve ${m.model}` });
    const log: TabRequestLog = { id: m.id, model: m.model, maxTokens: m.maxTokens, produced: 0, state: 'running' };
    requests.push(log);
    const r: Running = { log, controller: new AbortController(), allowed: m.window, wake: null };
    running.set(m.id, r);
    const signal = r.controller.signal;
    try {
      const generation = await provider.generate({ model: m.model, promptTokens: m.promptTokens, maxTokens: m.maxTokens, sampling: m.sampling, signal });
      for await (const token of generation.tokens) {
        log.produced++;
        send({ type: 'token', id: m.id, token });
        // the companion has not read enough yet: wait for a pull (or an abort) before the next step
        while (log.produced >= r.allowed && !signal.aborted)
          await new Promise<void>((resolve) => {
            r.wake = resolve;
          });
        signal.throwIfAborted();
      }
      log.state = 'done';
      send({ type: 'done', id: m.id });
    } catch (error) {
      if (signal.aborted) log.state = 'aborted';
      else {
        log.state = 'failed';
        send({ type: 'error', id: m.id, code: (error as { code?: string }).code ?? 'generation_failed', message: (error as Error).message });
      }
    } finally {
      running.delete(m.id);
    }
  }

  socket.addEventListener('open', () => {
    send({
      type: 'hello',
      version: TAB_ATTACH_VERSION,
      tab: o.name ?? `t${Math.random().toString(36).slice(2, 10)}`,
      models: [...engines].map(([id, e]) => ({
        id,
        contextLength: e.maxPositions,
        layers: e.config.nLayer,
        tokenizer: encodeTokenizerMetadata(e.model.header.metadata),
      })),
    });
  });
  socket.addEventListener('message', (event) => {
    const checked = readCompanionMessage(event.data);
    if (!checked.ok) return o.log?.(`tab-serve: ignored a bad frame from the companion: ${checked.reason}`);
    const m = checked.value;
    switch (m.type) {
      case 'welcome':
        return welcome.resolve(m.peer);
      case 'generate': {
        const loop = run(m).finally(() => loops.delete(loop));
        loops.add(loop);
        return;
      }
      case 'pull': {
        const r = running.get(m.id);
        if (r) {
          r.allowed += m.n;
          r.wake?.();
          r.wake = null;
        }
        return;
      }
      case 'abort': {
        const r = running.get(m.id);
        if (r) {
          r.controller.abort();
          r.wake?.();
          r.wake = null;
        }
        return;
      }
      case 'error':
        o.log?.(`tab-serve: the companion refused a frame: ${m.message}`);
        if (m.id === undefined) welcome.reject(new TabServeError('attach_refused', `the companion refused this tab: ${m.message}`));
    }
  });
  const onGone = () => {
    for (const r of running.values()) {
      r.controller.abort();
      r.wake?.();
    }
    welcome.reject(new TabServeError('attach_failed', `cannot attach to the companion at ${o.api} (is it running, and is this page's origin allowed?)`));
    closedResolve();
  };
  socket.addEventListener('close', onGone);
  socket.addEventListener('error', () => {});

  const stop = async () => {
    socket.close(1000, 'stopped');
    await closed;
    await Promise.allSettled(loops); // each stops within one token of the abort onGone sent
    for (const e of owned) await e.close();
  };
  let peer: string;
  try {
    peer = await welcomed;
  } catch (error) {
    await stop();
    throw error;
  }
  o.log?.(`tab-serve: attached as ${peer}, serving ${[...engines.keys()].join(', ')}`);
  return { peer, requests, closed, stop };
}

/**
 * `?serve-tab=<model>[,<model>]` in the app's URL serves those models (from /models/<model>.gguf
 * of the app's origin) through the companion `api()` names. Returns null when the link asks for nothing.
 */
export function serveTabFromLink(href: string, api: () => Promise<{ url: string; token?: string }>): Promise<TabServe> | null {
  const wanted = new URL(href).searchParams.get('serve-tab');
  if (!wanted) return null;
  const models = wanted
    .split(',')
    .map((id) => id.trim())
    .filter(Boolean)
    .map((id) => ({ id, source: `/models/${encodeURIComponent(id)}.gguf` }));
  return api().then((c) => startTabServe({ api: c.url, token: c.token, models, log: (line) => console.info(line) }));
}
