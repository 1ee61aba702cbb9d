// How a server runs its stage: one interface (open a model's layer range on a backend; sessions that
// extend, truncate and free) with two hosts. This file holds the interface and the in-process host
// (Node tests, the companion, pages without workers); worker-stage-runner.ts runs the same stage in
// the inference worker, so a tab's page keeps only libp2p and the frames.
import { computeFor } from '../../engine/backend.ts';
import { withLayersRead } from '../../engine/layer-span.ts';
import type { ComputeOptions, ModelFile } from '../../engine/model.ts';
import { openStage } from '../../engine/stage.ts';
import { referenceKernels } from '../../kernels/reference/index.ts';
import type { LayerRange } from '../../protocol/mesh-plan.ts';

/** What a person or a link asks for: 'auto' is WebGPU on a real GPU adapter, else WASM. */
export type StageBackendChoice = 'auto' | 'webgpu' | 'wasm';
export const STAGE_BACKEND_CHOICES: readonly StageBackendChoice[] = ['auto', 'webgpu', 'wasm'];

/** What a stage runs on: 'ref' only where the WASM kernels did not load. */
export type StageBackendName = 'webgpu' | 'wasm' | 'ref';

export interface RunnerSession {
  /** Positions cached so far (kept on the caller's side, so reading it costs no round trip). */
  readonly length: number;
  /** [nTokens][nEmbd] hidden states in, the same shape out. The input may be detached (transferred). */
  extend(hidden: Float32Array, nTokens: number): Promise<Float32Array>;
  truncate(length: number): Promise<void>;
  free(): Promise<void>;
}

export interface RunningStage {
  readonly model: string;
  readonly layers: LayerRange;
  readonly backend: StageBackendName;
  /** For people: the device and cache, e.g. "WebGPU (SwiftShader, fallback adapter), f32 KV cache". */
  readonly detail: string;
  readonly nEmbd: number;
  readonly maxPositions: number;
  createSession(): Promise<RunnerSession>;
  /** Releases its memory (GPU buffers, the worker); open sessions fail afterwards. */
  close(): Promise<void>;
}

export interface StageRunner {
  /** Throws when the backend asked for is unavailable ('auto' falls back to WASM instead). */
  open(model: string, layers: LayerRange, backend: StageBackendChoice): Promise<RunningStage>;
  /** Optional warm-up while the peer joins (kernels compiled), so a plan's load waits only for weights. */
  prepare?(backend: StageBackendChoice): void;
}

export interface InProcessRunnerOptions {
  readonly openModel: (model: string) => Promise<ModelFile>;
  /** Fixed kernels for every stage (tests); otherwise chosen by the backend asked for. */
  readonly compute?: ComputeOptions;
  readonly log?: (line: string) => void;
}

/** The stage runs where its caller runs (the page's main thread, or Node). */
export function inProcessStageRunner(o: InProcessRunnerOptions): StageRunner {
  let cpu: Promise<{ compute: ComputeOptions; backend: StageBackendName }> | undefined;
  const wasm = () =>
    (cpu ??= computeFor('cpu').then(
      (compute) => ({ compute, backend: 'wasm' as const }),
      async (error: unknown) => {
        // The scalar reference kernels are ten times slower than WASM SIMD, which every current browser and Node has.
        o.log?.(`pipeline: the WASM kernels did not load (${(error as Error).message}); running stages on the reference kernels`);
        return { compute: await computeFor('ref'), backend: 'ref' as const };
      },
    ));
  const pick = async (choice: StageBackendChoice): Promise<{ compute: ComputeOptions; backend: StageBackendName }> => {
    if (o.compute)
      return { compute: o.compute, backend: o.compute.stages ? 'webgpu' : o.compute.kernels && o.compute.kernels !== referenceKernels ? 'wasm' : 'ref' };
    if (choice === 'wasm') return wasm();
    if (choice === 'webgpu') return { compute: await computeFor('webgpu'), backend: 'webgpu' };
    const { probeGpuAdapter } = await import('../../engine/webgpu/device.ts');
    const adapter = await probeGpuAdapter();
    if (!adapter || adapter.fallback) return wasm();
    return computeFor('webgpu').then(
      (compute) => ({ compute, backend: 'webgpu' as const }),
      () => wasm(),
    );
  };
  return {
    prepare(choice) {
      void pick(choice).catch(() => {});
    },
    async open(model, layers, choice) {
      const { compute, backend } = await pick(choice);
      const file = await o.openModel(model);
      const stage = await openStage(await withLayersRead(file, layers.start, layers.end), layers.start, layers.end, compute);
      const maxPositions = file.config.nCtxTrain;
      return {
        model,
        layers,
        backend,
        detail: backend === 'webgpu' ? 'WebGPU on this page, f32 KV cache' : backend === 'wasm' ? 'WebAssembly on this page' : 'reference kernels on this page',
        nEmbd: file.config.nEmbd,
        maxPositions,
        async createSession() {
          const s = stage.createSession({ maxPositions });
          return {
            get length() {
              return s.length;
            },
            extend: (hidden, nTokens) => s.extend(hidden, nTokens),
            truncate: async (length) => s.truncate(length),
            free: async () => s.free(),
          };
        },
        async close() {
          (stage as { destroy?: () => void }).destroy?.();
        },
      };
    },
  };
}
