// One attached browser tab, companion side: the models it announced (with tokenizers built from the
// metadata it sent) and the generations forwarded to it. Tokens come back one frame each and are
// handed to the API as they are read, with a pull per token read (the tab runs at most `window`
// tokens ahead); client abort sends an abort; the tab leaving fails every open generation cleanly.
import type { WebSocket } from 'ws';
import type { GenerateRequest, Generation, ModelDescriptor, ModelText } from '../provider/provider.ts';
import { ApiError } from '../protocol/api-error.ts';
import { decodeTokenizerMetadata, DEFAULT_TAB_WINDOW, type CompanionMessage, type TabMessage, type TabModel } from '../protocol/tab-attach.ts';
import type { GgufValue } from '../gguf/reader.ts';
import { chatTemplateFor, Tokenizer } from '../tokenizer/index.ts';

interface Served {
  descriptor: ModelDescriptor;
  layers: number;
  text: ModelText;
}

type Item = { token: number } | { done: true } | { error: Error };

/** A generation running on the tab: tokens received and not yet read, and whoever waits for one. */
class TabRun {
  readonly items: Item[] = [];
  waiter: ((item: Item) => void) | null = null;
  ended = false;

  push(item: Item): void {
    if (this.ended) return;
    if (!('token' in item)) this.ended = true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(item);
    } else this.items.push(item);
  }

  next(): Promise<Item> {
    const item = this.items.shift();
    if (item) return Promise.resolve(item);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }
}

let nextRunId = 0;

export class TabConnection {
  readonly peer: string;
  readonly models = new Map<string, Served>();
  private readonly ws: WebSocket;
  private readonly runs = new Map<string, TabRun>();
  private closed = false;

  /** Builds each announced model's tokenizer and template; throws (a TokenizerError) if one is unusable. */
  constructor(ws: WebSocket, peer: string, models: readonly TabModel[]) {
    this.ws = ws;
    this.peer = peer;
    for (const m of models) {
      const metadata = decodeTokenizerMetadata(m.tokenizer) as unknown as ReadonlyMap<string, GgufValue>;
      const tokenizer = Tokenizer.fromMetadata(metadata);
      this.models.set(m.id, {
        descriptor: { id: m.id, ownedBy: peer, contextLength: m.contextLength, created: 0 },
        layers: m.layers,
        text: { tokenizer, template: chatTemplateFor(metadata, tokenizer) },
      });
    }
  }

  get busy(): number {
    return this.runs.size;
  }

  send(message: CompanionMessage): void {
    if (!this.closed && this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
  }

  /** A checked frame from the tab about one of its generations. */
  receive(message: Exclude<TabMessage, { type: 'hello' }>): void {
    const run = this.runs.get(message.id);
    if (!run) return; // late frames of a generation already aborted: expected, ignored
    if (message.type === 'token') run.push({ token: message.token });
    else if (message.type === 'done') run.push({ done: true });
    else run.push({ error: new ApiError('internal', `the tab ${this.peer} failed to generate: ${message.message}`, { code: `tab_${message.code}` }) });
    if (run.ended) this.runs.delete(message.id);
  }

  /** The tab went away: every open generation ends with a 503-shaped error instead of hanging. */
  closeRuns(reason: string): void {
    this.closed = true;
    for (const [id, run] of this.runs) {
      run.push({
        error: new ApiError('unavailable', `the tab ${this.peer} serving this model left mid-request (${reason}); retry, another peer may serve it`, {
          code: 'peer_left',
          retryAfter: 1,
        }),
      });
      this.runs.delete(id);
    }
  }

  generate(request: GenerateRequest): Generation {
    const served = this.models.get(request.model)!;
    if (this.closed) throw new ApiError('unavailable', `the tab ${this.peer} has left; retry`, { code: 'peer_left', retryAfter: 1 });
    const id = `r${++nextRunId}`;
    const run = new TabRun();
    this.runs.set(id, run);
    const window = DEFAULT_TAB_WINDOW;
    this.send({
      type: 'generate',
      id,
      model: request.model,
      promptTokens: request.promptTokens,
      maxTokens: request.maxTokens,
      sampling: request.sampling,
      window,
    });
    const stop = () => {
      if (run.ended) return;
      run.push({ error: new DOMException('the client aborted the request', 'AbortError') });
      this.runs.delete(id);
      this.send({ type: 'abort', id });
    };
    request.signal.addEventListener('abort', stop, { once: true });
    const self = this;
    async function* tokens(): AsyncGenerator<number> {
      try {
        for (;;) {
          const item = await run.next();
          if ('error' in item) throw item.error;
          if ('done' in item) return;
          yield item.token;
          self.send({ type: 'pull', id, n: 1 });
        }
      } finally {
        request.signal.removeEventListener('abort', stop);
        stop(); // read to the end it is a no-op; ended early (stop sequence, max tokens) it stops the tab
      }
    }
    return { servedBy: [{ peer: this.peer, layers: [0, served.layers] }], tokens: tokens() };
  }
}
