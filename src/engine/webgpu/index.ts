// The WebGPU backend: stages and the tail run on the GPU (activations and KV caches stay there), the
// head's embedding lookup on the CPU (a few rows of a table too large to be worth uploading).
import type { ModelFile, StageBackend } from '../model.ts';
import type { Stage } from '../stage.ts';
import type { Tail } from '../tail.ts';
import { requestGpuDevice, type GpuDeviceInfo, type GpuDeviceOptions } from './device.ts';
import { GpuContext } from './gpu-context.ts';
import { createWebGpuStage } from './gpu-stage.ts';
import { createWebGpuTail } from './gpu-tail.ts';

export { hasWebGpu, probeGpuAdapter, type GpuAdapterProbe } from './device.ts';
export { createWebGpuStage } from './gpu-stage.ts';
export { createWebGpuTail } from './gpu-tail.ts';
export { GpuContext } from './gpu-context.ts';

export interface WebGpuBackend extends StageBackend {
  readonly info: GpuDeviceInfo;
  readonly context: GpuContext;
}

/** Acquires a device (throws engine_backend_unavailable without WebGPU) and returns the stage factory. */
export async function createWebGpuBackend(options: GpuDeviceOptions = {}): Promise<WebGpuBackend> {
  const info = await requestGpuDevice(options);
  const context = new GpuContext(info.device, info.fallback, info.shaderF16);
  return {
    name: 'webgpu',
    info,
    context,
    openStage: (model: ModelFile, first: number, end: number): Promise<Stage> => createWebGpuStage(context, model, first, end),
    openTail: (model: ModelFile): Promise<Tail> => createWebGpuTail(context, model),
  };
}

/**
 * One device per page (or worker), shared by every model opened with backend 'webgpu': pipelines are
 * compiled once and GPU memory is accounted in one place. A lost device is replaced on the next call.
 */
let shared: Promise<WebGpuBackend> | undefined;

export function sharedWebGpuBackend(): Promise<WebGpuBackend> {
  if (!shared) {
    const p = createWebGpuBackend();
    shared = p;
    p.then(
      (b) =>
        b.info.device.lost.then(() => {
          if (shared === p) shared = undefined;
        }),
      () => {
        if (shared === p) shared = undefined;
      },
    );
  }
  return shared;
}
