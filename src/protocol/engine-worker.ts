// The inference worker's wire contract (workers/inference-worker.ts ↔ src/engine/worker-client.ts):
// a protocol version checked at connect, the calls the worker answers (through comlink), what they
// carry, and the error shape that keeps a code across the boundary. Plain data only: everything here
// crosses postMessage by structured clone.
import type { SamplingOptions } from './sampling.ts';

/** Bumped on any incompatible change to the calls or shapes below; client and worker must agree. */
export const ENGINE_WORKER_PROTOCOL = 1;

/** 'auto' picks in the worker: 'cpu' (WASM, threaded when cross-origin isolated). */
export type WorkerBackendChoice = 'auto' | 'ref' | 'cpu' | 'webgpu';

/** What to load: a URL (read with Range requests), the bytes (transferred), or a Blob/File. */
export type WorkerModelInput = string | ArrayBuffer | Blob;

export interface WorkerLoadOptions {
  /** Default 'auto'. */
  readonly backend?: WorkerBackendChoice;
  /** WASM threads counting the worker itself; default: up to 4 when cross-origin isolated, else 1. */
  readonly threads?: number;
  /** Half-open layer ranges run as separate stages, "0:4,4:8"; default one stage. */
  readonly split?: string;
  /**
   * Host only this layer range, for a mesh peer: no tokenizer, head or tail; sessions take and give
   * hidden states ([nTokens][nEmbd] f32). Exclusive with `split`.
   */
  readonly stage?: readonly [first: number, end: number];
  readonly maxPositions?: number;
  readonly kvPrecision?: 'f32' | 'f16';
  readonly batchSize?: number;
}

/** Progress while a model loads: bytes read from the source so far (header, then weights), then ready. */
export interface LoadProgress {
  readonly phase: 'reading' | 'ready';
  readonly bytesLoaded: number;
  /** The file size, when the source knows it. */
  readonly bytesTotal: number | undefined;
}

export interface WorkerModelInfo {
  readonly arch: string;
  readonly nLayer: number;
  readonly nEmbd: number;
  readonly nVocab: number;
  readonly nCtxTrain: number;
  readonly maxPositions: number;
  /** The backend actually running, after 'auto' was resolved. */
  readonly backend: 'ref' | 'cpu' | 'webgpu';
  /** WASM threads actually running (1 unless cross-origin isolated or in Node). */
  readonly threads: number;
  readonly ranges: readonly (readonly [number, number])[];
  /** Whether this worker hosts a single stage (hidden states in and out) rather than a whole model. */
  readonly stageOnly: boolean;
  /** The KV cache's precision as loaded. */
  readonly kvPrecision?: 'f32' | 'f16';
  /** backend 'webgpu': the adapter the device came from. */
  readonly gpu?: WorkerGpuInfo;
  readonly crossOriginIsolated: boolean;
}

export interface WorkerGpuInfo {
  readonly description: string;
  /** A software adapter (SwiftShader): correct, but no measure of GPU speed. */
  readonly fallback: boolean;
  /** The device has shader-f16: an f16 KV cache is held as f16. */
  readonly shaderF16: boolean;
}

export type WorkerLogitsWanted = 'all' | 'last' | 'none';

/** The sampler's settings (src/engine/sampler.ts gives them meaning). */
export type WorkerSampling = SamplingOptions;

export interface WorkerGenerateRequest {
  readonly promptTokens: readonly number[];
  readonly maxTokens: number;
  readonly sampling?: WorkerSampling;
  readonly stop?: readonly string[];
}

export type WorkerGenerateEvent =
  | { readonly type: 'token'; readonly token: number; readonly text: string }
  | {
      readonly type: 'done';
      readonly finishReason: 'stop' | 'length';
      readonly usage: { readonly promptTokens: number; readonly completionTokens: number };
      readonly text: string;
      readonly seed: number;
    };

export interface WorkerTokenLogprob {
  readonly id: number;
  readonly logprob: number;
}

/** Codes the worker boundary itself adds; engine, GGUF and kernel codes pass through unchanged. */
export type EngineWorkerErrorCode =
  | 'worker_protocol_mismatch'
  | 'worker_no_model'
  | 'worker_wrong_role'
  | 'worker_unknown_session'
  | 'worker_bad_request'
  | 'worker_crashed'
  | 'worker_closed';

/** An error as it crosses the boundary: `name` 'AbortError' for cancellations, a code otherwise. */
export interface WireError {
  readonly name: string;
  readonly code: string | undefined;
  readonly message: string;
  readonly stack?: string;
}

export function isWireError(x: unknown): x is WireError {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  return typeof o.name === 'string' && typeof o.message === 'string' && (o.code === undefined || typeof o.code === 'string');
}

/**
 * The calls the worker exposes. `requestId` names a call so cancel(requestId) can abort it; callbacks
 * are comlink proxies (fire-and-forget from the worker, so a slow page never stalls decoding).
 */
export interface EngineWorkerApi {
  hello(): { protocol: number };
  load(requestId: number, input: WorkerModelInput, options: WorkerLoadOptions, onProgress?: (p: LoadProgress) => void): Promise<WorkerModelInfo>;
  unload(): Promise<void>;
  cancel(requestId: number): void;
  tokenize(text: string, parseSpecial?: boolean): number[];
  detokenize(ids: readonly number[]): string;
  /** Resolves with how many events it sent, so the page knows when the last one has arrived. */
  generate(requestId: number, req: WorkerGenerateRequest, onEvent: (e: WorkerGenerateEvent) => void): Promise<number>;
  logits(requestId: number, promptTokens: readonly number[], topK: number): Promise<WorkerTokenLogprob[][]>;
  createSession(): number;
  /** Whole model: token ids in, logits out. Stage-only: hidden states in, hidden states out. */
  extend(requestId: number, session: number, input: readonly number[] | Float32Array, logits?: WorkerLogitsWanted): Promise<Float32Array>;
  sessionLength(session: number): number;
  truncate(session: number, length: number): void;
  freeSession(session: number): void;
}
