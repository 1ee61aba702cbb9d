// What the inference worker serves (EngineWorkerApi): one loaded model, either whole (an Engine,
// possibly split into stages) or a single layer range for a mesh peer; its sessions; cancellable
// calls. Every failure leaves as a WireError and leaves the host usable: a bad file fails its load
// and the next load starts clean. Written without DOM or worker globals, so Node tests drive it directly.
import { computeFor } from '../../src/engine/backend.ts';
import { Engine, type InferenceSession } from '../../src/engine/engine.ts';
import { withLayersRead } from '../../src/engine/layer-span.ts';
import { openModel } from '../../src/engine/model.ts';
import { openStage, type StageSession } from '../../src/engine/stage.ts';
import { EngineWorkerError, wire, wireSync } from '../../src/engine/worker-errors.ts';
import {
  ENGINE_WORKER_PROTOCOL,
  type EngineWorkerApi,
  type LoadProgress,
  type WorkerGenerateEvent,
  type WorkerGenerateRequest,
  type WorkerLoadOptions,
  type WorkerLogitsWanted,
  type WorkerModelInfo,
  type WorkerModelInput,
  type WorkerTokenLogprob,
} from '../../src/protocol/engine-worker.ts';
import { currentEnvironment, pickBackend, type Environment } from './backend-choice.ts';
import { countingSource, openWorkerSource } from './progress-source.ts';
import { yieldToEvents } from './yield.ts';

/** A loaded layer range without head or tail: hidden states in, hidden states out. */
interface StageOnly {
  createSession(): StageSession;
  close(): Promise<void>;
}

type Loaded =
  | { readonly kind: 'engine'; readonly engine: Engine; readonly info: WorkerModelInfo; close(): Promise<void> }
  | { readonly kind: 'stage'; readonly stage: StageOnly; readonly info: WorkerModelInfo; close(): Promise<void> };

type AnySession = { kind: 'engine'; s: InferenceSession } | { kind: 'stage'; s: StageSession; nEmbd: number };

/**
 * Hands a typed array back by transfer where a transport supports it (comlink in the worker entry
 * installs one); the identity in Node tests.
 */
export type Transfer = <T extends ArrayBufferView>(value: T) => T;

export class InferenceHost implements EngineWorkerApi {
  private loaded: Loaded | undefined;
  private readonly sessions = new Map<number, AnySession>();
  private nextSession = 1;
  private readonly requests = new Map<number, AbortController>();
  private readonly env: Environment;
  private readonly transfer: Transfer;
  private loading: Promise<unknown> = Promise.resolve();
  private readonly cancelledEarly = new Set<number>();

  constructor(options: { env?: Environment; transfer?: Transfer } = {}) {
    this.env = options.env ?? currentEnvironment();
    this.transfer = options.transfer ?? ((v) => v);
  }

  hello(): { protocol: number } {
    return { protocol: ENGINE_WORKER_PROTOCOL };
  }

  /** Aborts a call in flight; it rejects with an AbortError at its next check (between decode steps or batches). */
  cancel(requestId: number): void {
    const controller = this.requests.get(requestId);
    if (controller) controller.abort(new DOMException('the request was cancelled', 'AbortError'));
    else if (this.cancelledEarly.add(requestId).size > 1024) this.cancelledEarly.clear(); // a load queued behind another (or a call just finished)
  }

  private async tracked<T>(requestId: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.requests.has(requestId)) throw new EngineWorkerError('worker_bad_request', `request id ${requestId} is already in use`);
    const controller = new AbortController();
    if (this.cancelledEarly.delete(requestId)) controller.abort(new DOMException('the request was cancelled', 'AbortError'));
    this.requests.set(requestId, controller);
    try {
      return await wire(() => {
        controller.signal.throwIfAborted();
        return fn(controller.signal);
      });
    } finally {
      this.requests.delete(requestId);
    }
  }

  load(requestId: number, input: WorkerModelInput, options: WorkerLoadOptions = {}, onProgress?: (p: LoadProgress) => void): Promise<WorkerModelInfo> {
    // Loads run one after another: a second load waits for the first, then replaces its model.
    const run = this.loading.then(() => this.loadNow(requestId, input, options, onProgress));
    this.loading = run.catch(() => {});
    return run;
  }

  private loadNow(requestId: number, input: WorkerModelInput, options: WorkerLoadOptions, onProgress?: (p: LoadProgress) => void): Promise<WorkerModelInfo> {
    return this.tracked(requestId, async (signal) => {
      await this.unloadNow(); // one model per worker: its memory goes before the next one's arrives
      const { backend, threads } = pickBackend(options.backend, options.threads, this.env);
      if (options.stage && options.split) throw new EngineWorkerError('worker_bad_request', 'give either stage (one layer range) or split, not both');
      const report = (p: LoadProgress) => {
        void Promise.resolve(onProgress?.(p)).catch(() => {});
      };
      const opened = await openWorkerSource(input, signal);
      const source = countingSource(opened.source, report);
      try {
        const loaded = options.stage
          ? await this.loadStage(source, options, backend, threads, opened.close)
          : await this.loadEngine(source, options, backend, threads, opened.close, signal);
        signal.throwIfAborted();
        this.loaded = loaded;
        // Awaited (one round trip per load), so 'ready' reaches the page before the load call's reply.
        await Promise.resolve(
          onProgress?.({ phase: 'ready', bytesLoaded: Math.min(source.bytesLoaded, source.size ?? Infinity), bytesTotal: source.size }),
        ).catch(() => {});
        return loaded.info;
      } catch (e) {
        await opened.close();
        throw e;
      }
    });
  }

  private info(
    backend: WorkerModelInfo['backend'],
    threads: number,
    c: Engine['config'],
    maxPositions: number,
    ranges: WorkerModelInfo['ranges'],
    stageOnly: boolean,
  ): WorkerModelInfo {
    return {
      arch: c.arch,
      nLayer: c.nLayer,
      nEmbd: c.nEmbd,
      nVocab: c.nVocab,
      nCtxTrain: c.nCtxTrain,
      maxPositions,
      backend,
      threads,
      ranges,
      stageOnly,
      crossOriginIsolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
    };
  }

  private async loadEngine(
    source: Parameters<typeof Engine.load>[0],
    o: WorkerLoadOptions,
    backend: WorkerModelInfo['backend'],
    threads: number,
    closeSource: () => Promise<void>,
    signal: AbortSignal,
  ): Promise<Loaded> {
    const engine = await Engine.load(source, {
      backend,
      threads,
      split: o.split,
      maxPositions: o.maxPositions,
      kvPrecision: o.kvPrecision,
      batchSize: o.batchSize,
      signal,
    });
    const info = this.info(backend, threads, engine.config, engine.maxPositions, engine.ranges, false);
    return {
      kind: 'engine',
      engine,
      info,
      close: async () => {
        await engine.close();
        await closeSource();
      },
    };
  }

  private async loadStage(
    source: Parameters<typeof openModel>[0],
    o: WorkerLoadOptions,
    backend: WorkerModelInfo['backend'],
    threads: number,
    closeSource: () => Promise<void>,
  ): Promise<Loaded> {
    const compute = await computeFor(backend, { threads });
    let destroyStage: (() => void) | undefined;
    const dispose = () => {
      destroyStage?.(); // a WebGPU stage's buffers go now, not when the device is collected
      (compute.kernels as { dispose?: () => void } | undefined)?.dispose?.();
    };
    try {
      const [first, end] = o.stage!;
      // The range's tensors in one read: a URL source would otherwise be read tensor by tensor.
      const model = await withLayersRead(await openModel(source), first, end);
      const stage = await openStage(model, first, end, compute);
      destroyStage = (stage as { destroy?: () => void }).destroy;
      const maxPositions = o.maxPositions ?? model.config.nCtxTrain;
      const kvPrecision = o.kvPrecision ?? 'f32';
      const only: StageOnly = {
        createSession: () => stage.createSession({ maxPositions, kvPrecision }),
        close: async () => {
          dispose();
          await closeSource();
        },
      };
      const gpu = (compute.stages as { info?: { description: string; fallback: boolean; shaderF16: boolean } } | undefined)?.info;
      const info: WorkerModelInfo = {
        ...this.info(backend, threads, model.config, maxPositions, [[first, end]], true),
        kvPrecision,
        ...(gpu ? { gpu: { description: gpu.description, fallback: gpu.fallback, shaderF16: gpu.shaderF16 } } : {}),
      };
      return { kind: 'stage', stage: only, info, close: only.close };
    } catch (e) {
      dispose();
      throw e;
    }
  }

  unload(): Promise<void> {
    return wire(() => this.unloadNow());
  }

  private async unloadNow(): Promise<void> {
    for (const s of this.sessions.values()) s.s.free();
    this.sessions.clear();
    const l = this.loaded;
    this.loaded = undefined;
    await l?.close();
  }

  private engine(): Engine {
    const l = this.loaded;
    if (!l) throw new EngineWorkerError('worker_no_model', 'no model is loaded in the inference worker: call load() first');
    if (l.kind !== 'engine')
      throw new EngineWorkerError('worker_wrong_role', 'this worker hosts one layer range (stage) only: tokenizing, generating and scoring need a whole model');
    return l.engine;
  }

  tokenize(text: string, parseSpecial?: boolean): number[] {
    return wireSync(() => this.engine().tokenize(text, { parseSpecial }));
  }

  detokenize(ids: readonly number[]): string {
    return wireSync(() => this.engine().detokenize(ids));
  }

  generate(requestId: number, req: WorkerGenerateRequest, onEvent: (e: WorkerGenerateEvent) => void): Promise<number> {
    return this.tracked(requestId, async (signal) => {
      const engine = this.engine();
      let sent = 0;
      for await (const ev of engine.generate({ ...req, signal })) {
        sent++;
        // Not awaited: the page's acknowledgement would cost a round trip per token.
        void Promise.resolve(onEvent(ev)).catch(() => {});
        // Lets a cancel() message in between decode steps (the kernels never yield by themselves).
        if (ev.type === 'token') await yieldToEvents();
      }
      return sent;
    });
  }

  logits(requestId: number, promptTokens: readonly number[], topK: number): Promise<WorkerTokenLogprob[][]> {
    return this.tracked(requestId, (signal) => this.engine().logits(promptTokens, topK, signal));
  }

  createSession(): number {
    return wireSync(() => {
      const l = this.loaded;
      if (!l) throw new EngineWorkerError('worker_no_model', 'no model is loaded in the inference worker: call load() first');
      const id = this.nextSession++;
      this.sessions.set(
        id,
        l.kind === 'engine' ? { kind: 'engine', s: l.engine.createSession() } : { kind: 'stage', s: l.stage.createSession(), nEmbd: l.info.nEmbd },
      );
      return id;
    });
  }

  private session(id: number): AnySession {
    const s = this.sessions.get(id);
    if (!s) throw new EngineWorkerError('worker_unknown_session', `session ${id} does not exist in this worker (freed, or the model was reloaded)`);
    return s;
  }

  extend(requestId: number, session: number, input: readonly number[] | Float32Array, logits: WorkerLogitsWanted = 'all'): Promise<Float32Array> {
    return this.tracked(requestId, async (signal) => {
      const s = this.session(session);
      let out: Float32Array;
      if (s.kind === 'engine') {
        if (input instanceof Float32Array) throw new EngineWorkerError('worker_bad_request', 'a whole-model session extends by token ids, not hidden states');
        out = await s.s.extend(input, { logits, signal });
      } else {
        if (!(input instanceof Float32Array))
          throw new EngineWorkerError('worker_bad_request', 'a stage session extends by hidden states (a Float32Array of nTokens × nEmbd)');
        signal.throwIfAborted();
        out = await s.s.extend(input, input.length / s.nEmbd);
      }
      return this.transfer(out);
    });
  }

  sessionLength(session: number): number {
    return wireSync(() => this.session(session).s.length);
  }

  truncate(session: number, length: number): void {
    wireSync(() => this.session(session).s.truncate(length));
  }

  freeSession(session: number): void {
    wireSync(() => {
      this.sessions.get(session)?.s.free();
      this.sessions.delete(session);
    });
  }
}
