// Acquiring a WebGPU device with the limits a model needs: large weights and KV caches want the
// adapter's full storage-buffer sizes, not WebGPU's 128 MiB defaults.
import { EngineError } from '../errors.ts';

export interface GpuDeviceOptions {
  /**
   * Use shader-f16 when the adapter has it (default): an f16 KV cache is then held as f16, half the
   * bytes, with the same results. false keeps every kernel on f32 (to compare, or to rule f16 out).
   */
  readonly shaderF16?: boolean;
}

export interface GpuDeviceInfo {
  readonly device: GPUDevice;
  /** Whether the device was created with shader-f16 (f16 kernel variants may use it; every kernel has an f32 form). */
  readonly shaderF16: boolean;
  /** A software adapter such as SwiftShader: correct, but no measure of GPU speed. */
  readonly fallback: boolean;
  readonly description: string;
}

function unavailable(detail: string, cause?: unknown): EngineError {
  return new EngineError(
    'engine_backend_unavailable',
    `the "webgpu" backend is not available here: ${detail}; use the "cpu" backend, or a browser with WebGPU enabled (Chrome/Edge 113+, or --enable-unsafe-webgpu)`,
    { cause },
  );
}

/** Whether this runtime exposes WebGPU at all (navigator.gpu). */
export function hasWebGpu(): boolean {
  return typeof navigator !== 'undefined' && 'gpu' in navigator && !!navigator.gpu;
}

export async function requestGpuDevice(options: GpuDeviceOptions = {}): Promise<GpuDeviceInfo> {
  if (!hasWebGpu()) throw unavailable('navigator.gpu does not exist in this runtime');
  let adapter: GPUAdapter | null;
  try {
    adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (cause) {
    throw unavailable('requestAdapter failed', cause);
  }
  if (!adapter) throw unavailable('no GPU adapter was found');
  const shaderF16 = options.shaderF16 !== false && adapter.features.has('shader-f16');
  const l = adapter.limits;
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      requiredFeatures: shaderF16 ? ['shader-f16'] : [],
      requiredLimits: {
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxStorageBuffersPerShaderStage: Math.min(8, l.maxStorageBuffersPerShaderStage),
      },
    });
  } catch (cause) {
    throw unavailable('requestDevice failed', cause);
  }
  const info = adapter.info;
  return {
    device,
    shaderF16,
    fallback: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    description: [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unknown GPU',
  };
}

/** What the adapter offers, without taking a device: for choosing a backend before loading anything. */
export interface GpuAdapterProbe {
  readonly fallback: boolean;
  readonly shaderF16: boolean;
  readonly description: string;
}

/** The adapter a device would come from, or undefined where there is none (no WebGPU, or no adapter). */
export async function probeGpuAdapter(): Promise<GpuAdapterProbe | undefined> {
  if (!hasWebGpu()) return undefined;
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  if (!adapter) return undefined;
  const info = adapter.info;
  return {
    fallback: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    shaderF16: adapter.features.has('shader-f16'),
    description: [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unknown GPU',
  };
}
