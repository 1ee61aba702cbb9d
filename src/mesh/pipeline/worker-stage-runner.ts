// The stage runner's worker host: each stage loads in its own inference worker (workers/
// inference-worker.ts, stage-only mode), which reads the model by URL through the origin's weight
// cache and runs on WebGPU or on WASM threads. The page keeps libp2p (RTCPeerConnection does not
// exist in workers) and hands each activation frame over by transfer, not by copy.
import type { WorkerEngine, WorkerSession } from '../../engine/worker-client.ts';
import type { WorkerModelInfo } from '../../protocol/engine-worker.ts';
import type { RunnerSession, RunningStage, StageBackendChoice, StageBackendName, StageRunner } from './stage-runner.ts';

export interface WorkerRunnerOptions {
  /** The URL the worker loads a model id from (the page: <origin>/models/<id>.gguf; Node: a path). */
  readonly modelUrl: (model: string) => string;
  /** Starts an inference worker (default: a module Web Worker; Node tests: a worker_thread). */
  readonly startWorker?: () => Promise<WorkerEngine>;
  /** What the adapter offers, for 'auto' and the KV precision (default: asked of navigator.gpu here). */
  readonly probeGpu?: () => Promise<{ readonly fallback: boolean; readonly shaderF16: boolean } | undefined>;
  readonly log?: (line: string) => void;
}

async function defaultWorker(): Promise<WorkerEngine> {
  const { WorkerEngine } = await import('../../engine/worker-client.ts');
  return WorkerEngine.create();
}

async function defaultProbe() {
  const { probeGpuAdapter } = await import('../../engine/webgpu/device.ts');
  return probeGpuAdapter();
}

export function detailOf(info: WorkerModelInfo): string {
  if (info.backend === 'webgpu') {
    const gpu = info.gpu ? `${info.gpu.description}${info.gpu.fallback ? ', a software adapter' : ''}` : 'GPU';
    return `WebGPU (${gpu}) in a worker, ${info.kvPrecision ?? 'f32'} KV cache`;
  }
  if (info.backend === 'cpu') return `WebAssembly in a worker, ${info.threads} thread${info.threads === 1 ? '' : 's'}`;
  return 'reference kernels in a worker';
}

class WorkerRunnerSession implements RunnerSession {
  length = 0;
  private readonly s: WorkerSession;

  constructor(s: WorkerSession) {
    this.s = s;
  }

  async extend(hidden: Float32Array, nTokens: number): Promise<Float32Array> {
    // A copy the worker owns: the frame's bytes may share a buffer with the stream's other data.
    const out = await this.s.extend(Float32Array.from(hidden), { transfer: true });
    this.length += nTokens;
    return out;
  }

  async truncate(length: number): Promise<void> {
    await this.s.truncate(length);
    this.length = Math.min(this.length, length);
  }

  free(): Promise<void> {
    return this.s.free();
  }
}

export function workerStageRunner(o: WorkerRunnerOptions): StageRunner {
  const probe = o.probeGpu ?? defaultProbe;
  const start = o.startWorker ?? defaultWorker;

  const load = async (
    model: string,
    first: number,
    end: number,
    backend: 'webgpu' | 'cpu',
    shaderF16: boolean,
  ): Promise<{ engine: WorkerEngine; info: WorkerModelInfo }> => {
    const engine = await start();
    try {
      // f16 KV only where the device stores it as f16 (half the memory); elsewhere f32, bit-identical to a whole run.
      const info = await engine.load(o.modelUrl(model), { stage: [first, end], backend, kvPrecision: backend === 'webgpu' && shaderF16 ? 'f16' : 'f32' });
      return { engine, info };
    } catch (error) {
      engine.terminate();
      throw error;
    }
  };

  return {
    async open(model, layers, choice: StageBackendChoice): Promise<RunningStage> {
      const adapter = choice === 'wasm' ? undefined : await probe().catch(() => undefined);
      const gpu = choice === 'webgpu' || (choice === 'auto' && adapter !== undefined && !adapter.fallback);
      let loaded: { engine: WorkerEngine; info: WorkerModelInfo };
      try {
        loaded = await load(model, layers.start, layers.end, gpu ? 'webgpu' : 'cpu', adapter?.shaderF16 ?? false);
      } catch (error) {
        if (!(gpu && choice === 'auto')) throw error;
        o.log?.(`pipeline: the WebGPU stage did not load (${(error as Error).message}); running it on WebAssembly`);
        loaded = await load(model, layers.start, layers.end, 'cpu', false);
      }
      const { engine, info } = loaded;
      const backend: StageBackendName = info.backend === 'cpu' ? 'wasm' : info.backend;
      return {
        model,
        layers,
        backend,
        detail: detailOf(info),
        nEmbd: info.nEmbd,
        maxPositions: info.maxPositions,
        createSession: async () => new WorkerRunnerSession(await engine.createSession()),
        async close() {
          engine.terminate();
        },
      };
    },
  };
}
