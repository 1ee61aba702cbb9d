// The engine facade the API, the worker and the CLI all use: open a model (whole or as layer-range
// stages), tokenize with its own rules, generate, score prompts, and hand out sessions with cheap
// rollback for callers that drive decoding themselves (speculative decoding).
import type { Head } from './head.ts';
import type { Tail } from './tail.ts';
import { blobSource, memorySource, urlSource } from '../gguf/byte-source.ts';
import type { ByteSource } from '../gguf/reader.ts';
import { Tokenizer } from '../tokenizer/tokenizer.ts';
import { computeFor, type BackendName } from './backend.ts';
import type { ModelConfig } from './config.ts';
import { EngineError } from './errors.ts';
import { exactBatchOf } from './exact-batch.ts';
import { generateTokens, type GenerateEvent, type GenerateRequest } from './generate.ts';
import type { KvPrecision } from './kv-cache.ts';
import type { TokenLogprob } from './logprobs.ts';
import { openModel, type ModelFile } from './model.ts';
import { openPipeline, parseSplit, type LayerRange, type Pipeline } from './pipeline.ts';
import { createInferenceSession, type InferenceSession } from './session.ts';
import type { Stage } from './stage.ts';
import { topKIndices } from './top-k.ts';

export type { BackendName } from './backend.ts';
export type { FinishReason, GenerateEvent, GenerateRequest, StepLogprobs, Usage } from './generate.ts';
export type { SamplingOptions } from './sampler.ts';
export type { InferenceSession, LogitsWanted } from './session.ts';
export type { TokenLogprob } from './logprobs.ts';

/** A model: a local path (Node), an http(s) URL (read with Range requests), bytes, a Blob, or any ByteSource. */
export type ModelInput = string | URL | ByteSource | Uint8Array | ArrayBuffer | Blob;

export interface EngineOptions {
  /** Default 'ref'. */
  readonly backend?: BackendName;
  /** Half-open layer ranges run as separate stages, e.g. "0:4,4:8" or [[0,4],[4,8]]; default one stage. */
  readonly split?: string | readonly LayerRange[];
  /** Context limit per session; the model's training context by default. */
  readonly maxPositions?: number;
  readonly kvPrecision?: KvPrecision;
  readonly batchSize?: number;
  /** WASM threads of the 'cpu' backend, counting the caller (default 1). */
  readonly threads?: number;
  /** For URL models. */
  readonly fetch?: typeof fetch;
  readonly signal?: AbortSignal;
}

async function resolveSource(input: ModelInput, o: EngineOptions): Promise<{ source: ByteSource; close?: () => Promise<void> }> {
  if (input instanceof Uint8Array || input instanceof ArrayBuffer) return { source: memorySource(input) };
  if (typeof Blob !== 'undefined' && input instanceof Blob) return { source: blobSource(input) };
  if (input instanceof URL || (typeof input === 'string' && /^https?:\/\//i.test(input))) {
    return { source: await urlSource(String(input), { fetch: o.fetch, signal: o.signal }) };
  }
  if (typeof input === 'string') {
    // Node only; a computed specifier keeps node:fs out of browser bundles.
    const path = './file-source.ts';
    const { fileSource } = (await import(/* @vite-ignore */ path)) as typeof import('./file-source.ts');
    const source = await fileSource(input);
    return { source, close: () => source.close() };
  }
  if (input && typeof (input as ByteSource).read === 'function') return { source: input as ByteSource };
  throw new EngineError('engine_model_unreadable', 'the model must be a path, an http(s) URL, bytes, a Blob or a ByteSource');
}

export class Engine {
  readonly model: ModelFile;
  readonly config: ModelConfig;
  readonly backend: BackendName;
  readonly ranges: readonly LayerRange[];
  readonly maxPositions: number;
  private readonly pipeline: Pipeline;
  private readonly options: EngineOptions;
  private readonly closeSource: (() => Promise<void>) | undefined;
  private tok: Tokenizer | undefined;

  private constructor(model: ModelFile, pipeline: Pipeline, ranges: readonly LayerRange[], options: EngineOptions, close?: () => Promise<void>) {
    this.model = model;
    this.config = model.config;
    this.pipeline = pipeline;
    this.ranges = ranges;
    this.options = options;
    this.backend = options.backend ?? 'ref';
    this.closeSource = close;
    this.maxPositions = options.maxPositions ?? model.config.nCtxTrain;
  }

  static async load(input: ModelInput, options: EngineOptions = {}): Promise<Engine> {
    const compute = await computeFor(options.backend ?? 'ref', { threads: options.threads }); // refuse an unavailable backend before reading anything
    const disposeKernels = () => (compute.kernels as { dispose?: () => void } | undefined)?.dispose?.();
    let resolved: Awaited<ReturnType<typeof resolveSource>>;
    try {
      resolved = await resolveSource(input, options);
    } catch (e) {
      disposeKernels();
      throw e;
    }
    const { source } = resolved;
    // Closing the engine also stops the kernels' worker threads (the WASM backend's pool).
    const close = async () => {
      disposeKernels();
      await resolved.close?.();
    };
    try {
      const model = await openModel(source);
      const n = model.config.nLayer;
      const ranges = options.split === undefined ? [[0, n] as const] : typeof options.split === 'string' ? parseSplit(options.split, n) : options.split;
      const pipeline = await openPipeline(model, ranges, compute);
      if (options.maxPositions !== undefined && !(Number.isInteger(options.maxPositions) && options.maxPositions > 0)) {
        throw new EngineError('engine_bad_input', `maxPositions must be a positive integer, got ${options.maxPositions}`);
      }
      return new Engine(model, pipeline, ranges, options, close);
    } catch (e) {
      await close?.();
      throw e;
    }
  }

  /** The loaded layer ranges' stages, in order (hidden states in and out): a head that holds the model runs them itself. */
  get stages(): readonly Stage[] {
    return this.pipeline.stages;
  }

  /** The embedding and output head on this engine's kernels (a mesh head that holds the model uses them). */
  get headAndTail(): { readonly head: Head; readonly tail: Tail } {
    return { head: this.pipeline.head, tail: this.pipeline.tail };
  }

  /** The model's tokenizer, built from its GGUF metadata on first use. */
  get tokenizer(): Tokenizer {
    return (this.tok ??= Tokenizer.fromMetadata(this.model.header.metadata));
  }

  /**
   * Raw text → ids with the model's BOS/EOS rule and no chat template. Special-token text such as
   * `<s>` becomes the special token by default, as in llama.cpp's own tools.
   */
  tokenize(text: string, opts: { parseSpecial?: boolean } = {}): number[] {
    return this.tokenizer.tokenize(text, { addSpecial: true, parseSpecial: opts.parseSpecial ?? true });
  }

  detokenize(ids: readonly number[]): string {
    return this.tokenizer.detokenize(ids);
  }

  createSession(): InferenceSession {
    return createInferenceSession(this.pipeline, this.config.nEmbd, this.config.nVocab, {
      maxPositions: this.maxPositions,
      kvPrecision: this.options.kvPrecision,
      batchSize: this.options.batchSize,
      exactBatch: exactBatchOf(this.backend),
    });
  }

  /** Streams generated tokens, then one final 'done' event. A fresh session per call. */
  async *generate(req: GenerateRequest): AsyncGenerator<GenerateEvent, void, undefined> {
    const session = this.createSession();
    try {
      yield* generateTokens(session, this.tokenizer, req);
    } finally {
      session.free();
    }
  }

  /** Teacher-forced top-K log-probabilities of the next token after each prompt position. */
  async logits(promptTokens: readonly number[], topK: number, signal?: AbortSignal): Promise<TokenLogprob[][]> {
    if (!Number.isInteger(topK) || topK < 1) throw new EngineError('engine_bad_input', `topK must be a positive integer, got ${topK}`);
    const session = this.createSession();
    try {
      const all = await session.extend(promptTokens, { logits: 'all', signal });
      const nVocab = this.config.nVocab;
      return promptTokens.map((_, i) => topLogprobsOfRow(all, i * nVocab, nVocab, topK));
    } finally {
      session.free();
    }
  }

  /** Releases the model file (local paths) and the backend's worker threads. */
  async close(): Promise<void> {
    await this.closeSource?.();
  }
}

/** The k most likely tokens of one row, with log-probabilities normalised over the whole row (float64). */
export function topLogprobsOfRow(logits: Float32Array, offset: number, n: number, k: number): TokenLogprob[] {
  const ids = topKIndices(logits, k, offset, n);
  const max = logits[offset + ids[0]];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[offset + i] - max);
  const lse = max + Math.log(sum);
  return ids.map((id) => ({ id, logprob: logits[offset + id] - lse }));
}
