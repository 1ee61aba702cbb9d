// A ModelProvider over a model loaded in the inference worker (workers/inference-worker.ts), for the
// page: the KV cache and the forward pass stay in the worker; the tokenizer, chat template, sampler
// and session reuse run here through the same EngineProvider the companion uses, so a tab answers
// exactly as an in-process engine would (log-probs and prefix reuse included). One token costs one
// round trip to the worker, carrying one row of logits by transfer.
import { modelConfig, type ModelConfig } from '../engine/config.ts';
import { exactBatchOf } from '../engine/exact-batch.ts';
import type { ExtendOptions, InferenceSession } from '../engine/session.ts';
import type { WorkerEngine, WorkerLoadCallOptions, WorkerSession } from '../engine/worker-client.ts';
import { openGguf } from '../gguf/split.ts';
import type { GgufHeader } from '../gguf/reader.ts';
import type { WorkerModelInfo } from '../protocol/engine-worker.ts';
import { openModelUrl } from '../storage/shared-cache.ts';
import { Tokenizer } from '../tokenizer/index.ts';
import { EngineProvider, type EngineProviderOptions, type ProviderEngine } from './engine-provider.ts';
import type { GenerateRequest, Generation, ModelDescriptor, ModelProvider, ModelText, PromptLogprobs, PromptLogprobsRequest } from './provider.ts';

export interface WorkerModelSpec {
  /** The name clients put in `model`. */
  id: string;
  /** A model URL (any shard of a split model), read by the worker and the page through the weight cache. */
  url: string;
  /** /v1/models' owned_by. Default "tab". */
  ownedBy?: string;
  /** This peer's name in x-mesh-served-by. Default "tab". */
  peer?: string;
}

export interface WorkerProviderOptions extends EngineProviderOptions {
  /** Backend, threads, context length, progress and abort of the worker's load. */
  load?: WorkerLoadCallOptions;
  /**
   * The model's GGUF header as the page reads it (tokenizer, template, KV sizes). Default: read from
   * `url` through the weight cache, so the bytes the worker stored are not fetched again.
   */
  readHeader?: (url: string) => Promise<Pick<GgufHeader, 'metadata' | 'tensors'>>;
}

async function headerThroughCache(url: string): Promise<Pick<GgufHeader, 'metadata' | 'tensors'>> {
  return (await openGguf(await openModelUrl(url))).header;
}

/**
 * A whole-model session in the worker seen as an InferenceSession: token bookkeeping is kept here so
 * the provider's synchronous reads (length, tokens) need no round trip; calls queue on the worker's
 * channel in the order they are made.
 */
function workerSession(engine: WorkerEngine, maxPositions: number, exactBatch: number): InferenceSession {
  const remote: Promise<WorkerSession> = engine.createSession();
  remote.catch(() => {}); // surfaced by the first extend
  const held: number[] = [];
  let freed = false;
  return {
    get tokens() {
      return held;
    },
    get length() {
      return held.length;
    },
    maxPositions,
    exactBatch,
    async extend(tokens: readonly number[], opts: ExtendOptions = {}): Promise<Float32Array> {
      const s = await remote;
      try {
        const out = await s.extend(tokens, { logits: opts.logits ?? 'all', signal: opts.signal });
        held.push(...tokens);
        return out;
      } catch (e) {
        // An abort between prefill batches leaves the worker holding the batches that ran: roll back
        // to what this side knows, so the session can be kept and reused.
        void s.truncate(held.length).catch(() => {});
        throw e;
      }
    },
    truncate(length: number): void {
      held.length = Math.min(held.length, length);
      void remote.then((s) => s.truncate(length)).catch(() => {});
    },
    free(): void {
      if (freed) return;
      freed = true;
      void remote.then((s) => s.free()).catch(() => {});
    },
  };
}

export class WorkerProvider implements ModelProvider {
  readonly info: WorkerModelInfo;
  readonly config: ModelConfig;
  readonly spec: WorkerModelSpec;
  private readonly engine: WorkerEngine;
  private readonly inner: EngineProvider;

  private constructor(engine: WorkerEngine, spec: WorkerModelSpec, info: WorkerModelInfo, config: ModelConfig, inner: EngineProvider) {
    this.engine = engine;
    this.spec = spec;
    this.info = info;
    this.config = config;
    this.inner = inner;
  }

  /**
   * Loads `spec.url` in the worker (replacing what it held) and reads its header here. The worker
   * stays the caller's: close() unloads the model but does not terminate it.
   */
  static async load(engine: WorkerEngine, spec: WorkerModelSpec, options: WorkerProviderOptions = {}): Promise<WorkerProvider> {
    const { load, readHeader = headerThroughCache, ...providerOptions } = options;
    // The worker reads the file first, so the page's header read is answered from the cache.
    const info = await engine.load(spec.url, load);
    const header = await readHeader(spec.url);
    const config = modelConfig(header as GgufHeader);
    const tokenizer = Tokenizer.fromMetadata(header.metadata);
    const view: ProviderEngine = {
      config,
      maxPositions: info.maxPositions,
      ranges: info.ranges,
      tokenizer,
      model: { header: { metadata: header.metadata } },
      createSession: () => workerSession(engine, info.maxPositions, exactBatchOf(info.backend)),
    };
    const inner = new EngineProvider([{ id: spec.id, engine: view, peer: spec.peer ?? 'tab', ownedBy: spec.ownedBy ?? 'tab' }], providerOptions);
    return new WorkerProvider(engine, spec, info, config, inner);
  }

  get prefill(): EngineProvider['prefill'] {
    return this.inner.prefill;
  }

  listModels(): ModelDescriptor[] {
    return this.inner.listModels();
  }

  modelText(model: string): Promise<ModelText> {
    return this.inner.modelText(model);
  }

  generate(request: GenerateRequest): Promise<Generation> {
    return this.inner.generate(request);
  }

  supportsLogprobs(model: string): boolean {
    return this.inner.supportsLogprobs(model);
  }

  promptLogprobs(request: PromptLogprobsRequest): Promise<PromptLogprobs> {
    return this.inner.promptLogprobs(request);
  }

  /** Frees the model's memory in the worker. */
  close(): Promise<void> {
    return this.engine.unload();
  }
}
