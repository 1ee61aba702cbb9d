// The page's handle on the inference worker (workers/inference-worker.ts): the Engine surface —
// load, tokenize, generate as a stream, teacher-forced logits, sessions (whole-model or one stage's)
// — made async, with AbortSignal cancellation, load progress, and the worker's errors rethrown with
// their codes. A worker that dies rejects every pending call with worker_crashed.
import { proxy, releaseProxy, transfer, wrap, type Remote } from 'comlink';
import {
  ENGINE_WORKER_PROTOCOL,
  isWireError,
  type EngineWorkerApi,
  type LoadProgress,
  type WorkerGenerateEvent,
  type WorkerGenerateRequest,
  type WorkerLoadOptions,
  type WorkerLogitsWanted,
  type WorkerModelInfo,
  type WorkerModelInput,
  type WorkerTokenLogprob,
} from '../protocol/engine-worker.ts';
import { EngineWorkerError, fromWireError } from './worker-errors.ts';

export interface WorkerLoadCallOptions extends WorkerLoadOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: LoadProgress) => void;
}

export interface WorkerGenerateCall extends WorkerGenerateRequest {
  readonly signal?: AbortSignal;
}

/** What a worker-like object must offer (a Web Worker; a Node worker through comlink's adapter). */
export interface WorkerLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: string, listener: (e: unknown) => void): void;
  removeEventListener(type: string, listener: (e: unknown) => void): void;
  terminate(): void;
}

/** A session living in the worker: token ids (whole model) or hidden states (stage-only) in. */
export class WorkerSession {
  readonly id: number;
  private readonly client: WorkerEngine;

  constructor(client: WorkerEngine, id: number) {
    this.client = client;
    this.id = id;
  }

  /**
   * Whole model: ids → logits rows per `logits`. Stage-only: [n][nEmbd] hidden states → the same shape
   * out. With `transfer`, a Float32Array input's buffer moves to the worker (detached here) instead
   * of being copied: a mesh stage's activation frames, sent once and not read again.
   */
  extend(input: readonly number[] | Float32Array, opts: { logits?: WorkerLogitsWanted; signal?: AbortSignal; transfer?: boolean } = {}): Promise<Float32Array> {
    const sent = opts.transfer && input instanceof Float32Array ? transfer(input, [input.buffer as ArrayBuffer]) : input;
    return this.client.call(opts.signal, (api, id) => api.extend(id, this.id, sent, opts.logits ?? 'all'));
  }

  length(): Promise<number> {
    return this.client.call(undefined, (api) => api.sessionLength(this.id));
  }

  truncate(length: number): Promise<void> {
    return this.client.call(undefined, (api) => api.truncate(this.id, length));
  }

  free(): Promise<void> {
    return this.client.call(undefined, (api) => api.freeSession(this.id));
  }
}

export class WorkerEngine {
  private readonly worker: WorkerLike;
  private readonly api: Remote<EngineWorkerApi>;
  private nextRequest = 1;
  private dead: EngineWorkerError | undefined;
  private readonly pending = new Set<(e: Error) => void>();
  private current: WorkerModelInfo | undefined;

  private constructor(worker: WorkerLike) {
    this.worker = worker;
    this.api = wrap<EngineWorkerApi>(worker as unknown as Parameters<typeof wrap>[0]);
    const onError = (e: unknown) => {
      const detail = (e as { message?: string }).message ?? 'unknown error';
      this.fail(new EngineWorkerError('worker_crashed', `the inference worker stopped (${detail}); create a new WorkerEngine and load the model again`));
    };
    worker.addEventListener('error', onError);
  }

  /**
   * Starts a worker and checks it speaks this protocol version. Without `worker`, a module Web Worker
   * running workers/inference-worker.ts (Vite bundles it).
   */
  static async create(worker?: WorkerLike): Promise<WorkerEngine> {
    const w =
      worker ?? (new Worker(new URL('../../workers/inference-worker.ts', import.meta.url), { type: 'module', name: 'inference' }) as unknown as WorkerLike);
    const client = new WorkerEngine(w);
    const { protocol } = await client.call(undefined, (api) => api.hello());
    if (protocol !== ENGINE_WORKER_PROTOCOL) {
      client.terminate();
      throw new EngineWorkerError(
        'worker_protocol_mismatch',
        `the inference worker speaks protocol ${protocol}, this page ${ENGINE_WORKER_PROTOCOL}: reload the page so both come from the same build`,
      );
    }
    return client;
  }

  /** create() then load(). */
  static async load(input: WorkerModelInput, options: WorkerLoadCallOptions = {}, worker?: WorkerLike): Promise<WorkerEngine> {
    const client = await WorkerEngine.create(worker);
    try {
      await client.load(input, options);
      return client;
    } catch (e) {
      client.terminate();
      throw e;
    }
  }

  /** The loaded model, after load(). */
  get info(): WorkerModelInfo {
    if (!this.current) throw new EngineWorkerError('worker_no_model', 'no model is loaded: call load() first');
    return this.current;
  }

  /** Loads a model (replacing any loaded one). A URL is read with Range requests; an ArrayBuffer is transferred (detached here). */
  async load(input: WorkerModelInput, options: WorkerLoadCallOptions = {}): Promise<WorkerModelInfo> {
    const { signal, onProgress, ...rest } = options;
    const progress = onProgress ? proxy(onProgress) : undefined;
    this.current = undefined;
    // Bytes are moved, not copied: a model can be gigabytes (the caller's ArrayBuffer is detached).
    const sent = input instanceof ArrayBuffer ? transfer(input, [input]) : input;
    this.current = await this.call(signal, (api, id) => api.load(id, sent, rest, progress));
    return this.current;
  }

  unload(): Promise<void> {
    this.current = undefined;
    return this.call(undefined, (api) => api.unload());
  }

  tokenize(text: string, opts: { parseSpecial?: boolean } = {}): Promise<number[]> {
    return this.call(undefined, (api) => api.tokenize(text, opts.parseSpecial));
  }

  detokenize(ids: readonly number[]): Promise<string> {
    return this.call(undefined, (api) => api.detokenize(ids));
  }

  /** Streams generated tokens, then one 'done' event; aborting rejects the stream with an AbortError. */
  async *generate(req: WorkerGenerateCall): AsyncGenerator<WorkerGenerateEvent, void, undefined> {
    const { signal, ...request } = req;
    const queue: WorkerGenerateEvent[] = [];
    let wake: (() => void) | undefined;
    let received = 0;
    let expected: number | undefined; // events the worker sent, known once its call returns
    let failure: unknown;
    let failed = false;
    const onEvent = proxy((e: WorkerGenerateEvent) => {
      queue.push(e);
      received++;
      wake?.();
    });
    // Cancels the worker's loop when the caller aborts, and when it stops iterating early (break).
    const stop = new AbortController();
    const forward = () => stop.abort(signal?.reason);
    if (signal?.aborted) forward();
    signal?.addEventListener('abort', forward, { once: true });
    let settled = false;
    // The callback's messages travel on their own channel and may trail the call's reply.
    const call = this.call(stop.signal, (api, id) => api.generate(id, request, onEvent))
      .then(
        (n) => {
          expected = n;
        },
        (e: unknown) => {
          failure = e;
          failed = true;
        },
      )
      .finally(() => {
        settled = true;
        wake?.();
      });
    try {
      for (;;) {
        if (queue.length) {
          yield queue.shift()!;
          continue;
        }
        if (failed) throw failure;
        if (expected !== undefined && received >= expected) return;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    } finally {
      if (!settled) stop.abort(new DOMException('the caller stopped reading the generation', 'AbortError'));
      signal?.removeEventListener('abort', forward);
      await call; // the worker's end of onEvent is released when it is collected (comlink's finalizer)
    }
  }

  /** Teacher-forced top-K log-probabilities of the next token after each prompt position. */
  logits(promptTokens: readonly number[], topK: number, signal?: AbortSignal): Promise<WorkerTokenLogprob[][]> {
    return this.call(signal, (api, id) => api.logits(id, promptTokens, topK));
  }

  async createSession(): Promise<WorkerSession> {
    return new WorkerSession(this, await this.call(undefined, (api) => api.createSession()));
  }

  /** Stops the worker; pending calls reject with worker_closed. */
  terminate(): void {
    this.fail(new EngineWorkerError('worker_closed', 'the inference worker was terminated'));
    this.api[releaseProxy]();
    this.worker.terminate();
  }

  private fail(e: EngineWorkerError): void {
    if (this.dead) return;
    this.dead = e;
    for (const reject of this.pending) reject(e);
    this.pending.clear();
  }

  /**
   * One call to the worker with a fresh request id: the signal cancels it there, a dead worker rejects
   * it here, and a WireError comes back as a coded error.
   */
  call<T>(signal: AbortSignal | undefined, fn: (api: Remote<EngineWorkerApi>, requestId: number) => Promise<T> | T): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    if (signal?.aborted) return Promise.reject(signal.reason ?? new DOMException('aborted', 'AbortError'));
    const id = this.nextRequest++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => void Promise.resolve(this.api.cancel(id)).catch(() => {});
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = () => {
        this.pending.delete(reject);
        signal?.removeEventListener('abort', onAbort);
      };
      this.pending.add(reject);
      Promise.resolve(fn(this.api, id)).then(
        (v) => {
          settle();
          resolve(v);
        },
        (e: unknown) => {
          settle();
          reject(isWireError(e) ? fromWireError(e) : e);
        },
      );
    });
  }
}
