// @mlc-ai/web-llm (TVM-compiled models on WebGPU) as a TextEngine, for users who pick it. It needs a
// compiled model library (.wasm) and MLC-format weights, normally from Hugging Face and GitHub; the
// options let a user point it at self-hosted copies. Aborts map onto its interruptGenerate().
import { withDeadline } from './deadline.ts';
import { AdapterError, describeCause, isAbort } from './errors.ts';
import type { TextEngine, TextEvent, TextGenerateRequest, Usage } from './text-engine.ts';
import { webLlmAppConfig, webLlmRequestFields, type WebLlmAppConfig, type WebLlmModelLocation } from './web-llm-request.ts';

interface WebLlmChunk {
  choices?: { text?: string; delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
}

/** The part of web-llm's MLCEngine the adapter uses (structural, so tests can hand in a fake). */
export interface MlcEngineLike {
  reload(modelId: string): Promise<void>;
  unload(): Promise<void>;
  interruptGenerate(): void | Promise<void>;
  chat: { completions: { create(request: Record<string, unknown>): Promise<AsyncIterable<WebLlmChunk>> } };
  completions: { create(request: Record<string, unknown>): Promise<AsyncIterable<WebLlmChunk>> };
}

export interface WebLlmModuleLike {
  MLCEngine: new (config?: { appConfig?: WebLlmAppConfig; initProgressCallback?: (report: { progress: number; text: string }) => void }) => MlcEngineLike;
}

export interface WebLlmTextEngineOptions extends WebLlmModelLocation {
  /** The name clients use; the model id by default. */
  readonly id?: string;
  /** Bounds the whole load (config, library, weights): web-llm itself waits as long as the network does. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (fraction: number, text: string) => void;
  /** The web-llm module; `import('@mlc-ai/web-llm')` by default. */
  readonly module?: WebLlmModuleLike;
}

/** web-llm's environment errors (no WebGPU, a missing GPU feature) are the browser's, not the model's. */
const ENVIRONMENT_ERRORS = new Set(['WebGPUNotAvailableError', 'WebGPUNotFoundError', 'ShaderF16SupportError', 'FeatureSupportError', 'DeviceLostError']);

function loadError(e: unknown, o: WebLlmTextEngineOptions): AdapterError {
  const name = e instanceof Error ? e.name : '';
  if (ENVIRONMENT_ERRORS.has(name)) {
    return new AdapterError('adapter_unsupported_environment', `web-llm cannot run here (${describeCause(e)}); use the wllama or mesh engine in this browser`, {
      cause: e,
    });
  }
  return new AdapterError(
    'adapter_load_failed',
    `web-llm could not load "${o.modelId}" (${describeCause(e)}): check that ${o.model} serves mlc-chat-config.json and the weights (under resolve/main/ unless the URL names a /resolve/<revision>/ folder) and that ${o.modelLib} is the model library built for this model, both reachable from this page`,
    { cause: e },
  );
}

export async function loadWebLlmTextEngine(o: WebLlmTextEngineOptions): Promise<WebLlmTextEngine> {
  const appConfig = webLlmAppConfig(o);
  const module = o.module ?? ((await import('@mlc-ai/web-llm')) as unknown as WebLlmModuleLike);
  const engine = new module.MLCEngine({
    appConfig,
    initProgressCallback: o.onProgress ? (r) => o.onProgress!(r.progress, r.text) : undefined,
  });
  try {
    await withDeadline(engine.reload(o.modelId), {
      what: `web-llm loading "${o.modelId}" from ${o.model}`,
      timeoutMs: o.timeoutMs,
      signal: o.signal,
      onGiveUp: () => void engine.unload().catch(() => {}), // unload() aborts the reload's downloads
    });
  } catch (e) {
    if (e instanceof AdapterError || isAbort(e, o.signal)) throw e;
    await engine.unload().catch(() => {});
    throw loadError(e, o);
  }
  return new WebLlmTextEngine(engine, o.id ?? o.modelId, o.contextLength ?? 4096);
}

export class WebLlmTextEngine implements TextEngine {
  readonly id: string;
  readonly kind = 'web-llm' as const;
  readonly contextLength: number;
  readonly engine: MlcEngineLike;
  private closed = false;

  constructor(engine: MlcEngineLike, id: string, contextLength: number) {
    this.engine = engine;
    this.id = id;
    this.contextLength = contextLength;
  }

  async *generate(request: TextGenerateRequest): AsyncGenerator<TextEvent, void, undefined> {
    if (this.closed) throw new AdapterError('adapter_closed', `the web-llm engine "${this.id}" is closed; load it again`);
    const fields = webLlmRequestFields(request);
    const { signal } = request;
    signal?.throwIfAborted();
    // web-llm takes no AbortSignal: interruptGenerate() makes its stream end at the next token.
    const interrupt = () => void this.engine.interruptGenerate();
    signal?.addEventListener('abort', interrupt, { once: true });
    let finished = false;
    try {
      const prompt = request.prompt;
      const stream =
        'text' in prompt
          ? await this.engine.completions.create({ ...fields, prompt: prompt.text })
          : await this.engine.chat.completions.create({ ...fields, messages: prompt.messages.map((m) => ({ role: m.role, content: m.content })) });
      let produced = 0;
      let finishReason: 'stop' | 'length' | undefined;
      let usage: Usage | undefined;
      for await (const chunk of stream) {
        signal?.throwIfAborted();
        const choice = chunk.choices?.[0];
        const text = choice?.text ?? choice?.delta?.content ?? '';
        if (text !== '') {
          produced++;
          yield { type: 'token', text };
        }
        if (choice?.finish_reason) finishReason = choice.finish_reason === 'length' ? 'length' : 'stop';
        // With include_usage the counts come in a last chunk of their own, after the finish reason.
        if (chunk.usage) usage = { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens };
      }
      signal?.throwIfAborted();
      if (!finishReason) throw new AdapterError('adapter_generation_failed', 'web-llm ended the stream without a finish reason');
      finished = true;
      yield { type: 'done', finishReason, usage: usage ?? { promptTokens: 0, completionTokens: produced }, text: '' };
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      if (e instanceof AdapterError) throw e;
      throw new AdapterError('adapter_generation_failed', `web-llm failed while generating (${describeCause(e)})`, { cause: e });
    } finally {
      signal?.removeEventListener('abort', interrupt);
      if (!finished) interrupt();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.engine.unload();
  }
}
