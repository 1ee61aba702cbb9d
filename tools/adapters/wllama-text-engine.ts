// @wllama/wllama (llama.cpp compiled to WASM, CPU) as a TextEngine, for users who pick it over our
// engine. wllama 3 runs llama-server's handlers inside its worker: prompts go in as text (token-id
// prompts crash its glue), token ids come back through one top log-probability per step.
import { withDeadline } from './deadline.ts';
import { AdapterError, describeCause, isAbort } from './errors.ts';
import type { TextEngine, TextEvent, TextGenerateRequest } from './text-engine.ts';
import { readWllamaChunk, wllamaSamplingParams, type WllamaChunk } from './wllama-request.ts';

/** The part of wllama's API the adapter uses (structural, so tests can hand in a fake). */
export interface WllamaLike {
  loadModelFromUrl(url: string, params: Record<string, unknown>): Promise<void>;
  getLoadedContextInfo(): { n_ctx: number };
  createCompletion(options: Record<string, unknown>): Promise<AsyncIterable<WllamaChunk>>;
  createChatCompletion(options: Record<string, unknown>): Promise<AsyncIterable<WllamaChunk>>;
  exit(): Promise<void>;
}

export interface WllamaModuleLike {
  Wllama: new (paths: { default: string }, config?: Record<string, unknown>) => WllamaLike;
}

export interface WllamaTextEngineOptions {
  /** A GGUF file (http(s) or a page-relative URL; for split files, the first part). */
  readonly url: string;
  /** Where wllama's `wllama.wasm` is served (node_modules/@wllama/wllama/esm/wasm/wllama.wasm). */
  readonly wasmUrl: string;
  /** The name clients use; the file name by default. */
  readonly id?: string;
  /** Context to allocate (n_ctx). Default 4096. */
  readonly contextLength?: number;
  /** WASM threads; wllama uses one unless the page is cross-origin isolated. Default: its own choice. */
  readonly threads?: number;
  /** Keep the downloaded file in wllama's cache (Cache API / OPFS). Default false. */
  readonly useCache?: boolean;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (loaded: number, total: number) => void;
  /** The wllama module; its built ESM (`@wllama/wllama/esm/index.js`) by default. */
  readonly module?: WllamaModuleLike;
}

async function drain(chunks: AsyncIterator<unknown>): Promise<void> {
  try {
    while (!(await chunks.next()).done);
  } catch {
    // the abort we asked for
  }
}

function nameOf(url: string): string {
  const last = url.split(/[?#]/)[0].split('/').filter(Boolean).pop() ?? url;
  return last.replace(/\.gguf$/i, '');
}

export async function loadWllamaTextEngine(o: WllamaTextEngineOptions): Promise<WllamaTextEngine> {
  const module = o.module ?? ((await import('@wllama/wllama/esm/index.js')) as unknown as WllamaModuleLike);
  const wllama = new module.Wllama({ default: o.wasmUrl }, { suppressNativeLog: true });
  const params: Record<string, unknown> = {
    n_ctx: o.contextLength ?? 4096,
    n_gpu_layers: 0,
    useCache: o.useCache ?? false,
    progressCallback: o.onProgress ? (p: { loaded: number; total: number }) => o.onProgress!(p.loaded, p.total) : undefined,
  };
  if (o.threads !== undefined) params.n_threads = o.threads;
  const url = new URL(o.url, globalThis.location?.href).href;
  try {
    await withDeadline(wllama.loadModelFromUrl(url, params), {
      what: `wllama loading ${url}`,
      timeoutMs: o.timeoutMs,
      signal: o.signal,
      onGiveUp: () => void wllama.exit().catch(() => {}),
    });
  } catch (e) {
    if (e instanceof AdapterError || isAbort(e, o.signal)) throw e;
    await wllama.exit().catch(() => {});
    throw new AdapterError(
      'adapter_load_failed',
      `wllama could not load ${url} (${describeCause(e)}): check that the URL serves a GGUF file from this origin or with CORS (and Cross-Origin-Resource-Policy on a cross-origin-isolated page)`,
      { cause: e },
    );
  }
  return new WllamaTextEngine(wllama, o.id ?? nameOf(url), wllama.getLoadedContextInfo().n_ctx);
}

export class WllamaTextEngine implements TextEngine {
  readonly id: string;
  readonly kind = 'wllama' as const;
  readonly contextLength: number;
  /** The underlying wllama instance, for what the interface does not cover. */
  readonly wllama: WllamaLike;
  private closed = false;

  constructor(wllama: WllamaLike, id: string, contextLength: number) {
    this.wllama = wllama;
    this.id = id;
    this.contextLength = contextLength;
  }

  async *generate(request: TextGenerateRequest): AsyncGenerator<TextEvent, void, undefined> {
    if (this.closed) throw new AdapterError('adapter_closed', `the wllama engine "${this.id}" is closed; load it again`);
    const params = wllamaSamplingParams(request);
    const { signal } = request;
    signal?.throwIfAborted();
    // Our own controller also stops wllama when the consumer stops reading early (return()).
    const controller = new AbortController();
    const forward = () => controller.abort(signal!.reason);
    signal?.addEventListener('abort', forward, { once: true });
    let finished = false;
    let chunks: AsyncIterator<WllamaChunk> | undefined;
    try {
      const prompt = request.prompt;
      const stream =
        'text' in prompt
          ? await this.wllama.createCompletion({ ...params, prompt: prompt.text, stream: true, abortSignal: controller.signal })
          : await this.wllama.createChatCompletion({
              ...params,
              messages: prompt.messages.map((m) => ({ role: m.role, content: m.content })),
              logprobs: true,
              top_logprobs: 1,
              stream: true,
              abortSignal: controller.signal,
            });
      chunks = stream[Symbol.asyncIterator]();
      let produced = 0;
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
        // wllama queues chunks that arrived before the abort: none of them may reach the caller.
        signal?.throwIfAborted();
        const r = readWllamaChunk(next.value);
        produced += r.tokens.length;
        // Several tokens in one chunk: the text goes with the last, as our engine releases it.
        for (let i = 0; i < r.tokens.length; i++) yield { type: 'token', token: r.tokens[i], text: i === r.tokens.length - 1 ? r.text : '' };
        if (r.tokens.length === 0 && r.text !== '') {
          produced++;
          yield { type: 'token', text: r.text };
        }
        if (r.finishReason) {
          finished = true;
          yield { type: 'done', finishReason: r.finishReason, usage: r.usage ?? { promptTokens: 0, completionTokens: produced }, text: '' };
          return;
        }
      }
      finished = true;
      throw new AdapterError('adapter_generation_failed', 'wllama ended the stream without a finish reason');
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      if (e instanceof AdapterError || isAbort(e)) throw e;
      throw new AdapterError('adapter_generation_failed', `wllama failed while generating (${describeCause(e)})`, { cause: e });
    } finally {
      signal?.removeEventListener('abort', forward);
      if (!finished) {
        controller.abort();
        // Read the stream to its end (wllama stops at its next step once it sees the abort): its
        // iterator rejects then, and a rejection nobody reads surfaces as an unhandled error.
        if (chunks) await drain(chunks);
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.wllama.exit();
  }
}
