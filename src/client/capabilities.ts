// What this tab can do, probed once at start-up: the engine picks a backend from this report and the
// status panel shows it, so a person can see why their device serves (or cannot serve) layers.
import type { CapabilityReport, GpuReport, WasmReport } from '../protocol/capabilities.ts';

// Smallest modules that use each feature: validate() asks the browser's own decoder,
// so there is no user-agent sniffing. Each is `(module (func ...))` with one feature opcode.
const SIMD_MODULE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
const RELAXED_SIMD_MODULE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15, 253, 128, 2, 11,
]);
const THREADS_MODULE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0, 26, 11,
]);

function validates(bytes: Uint8Array): boolean {
  try {
    return WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>);
  } catch {
    return false;
  }
}

export function probeWasm(): WasmReport {
  if (typeof WebAssembly !== 'object' || typeof WebAssembly.validate !== 'function') {
    return { supported: false, simd: false, relaxedSimd: false, threads: false };
  }
  return {
    supported: true,
    simd: validates(SIMD_MODULE),
    relaxedSimd: validates(RELAXED_SIMD_MODULE),
    threads: typeof SharedArrayBuffer === 'function' && validates(THREADS_MODULE),
  };
}

/** The subset of the WebGPU API the probe touches, so tests can pass a fake. */
export interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<AdapterLike | null>;
}
export interface AdapterLike {
  features: Iterable<string>;
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

const EMPTY_GPU: Omit<GpuReport, 'state'> = {
  vendor: '',
  architecture: '',
  description: '',
  isFallbackAdapter: false,
  features: [],
  maxBufferSize: 0,
  maxStorageBufferBindingSize: 0,
};

export async function probeGpu(gpu: GpuLike | undefined): Promise<GpuReport> {
  if (!gpu) return { state: 'no-api', ...EMPTY_GPU };
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return { state: 'no-adapter', ...EMPTY_GPU };
    const info = adapter.info ?? {};
    return {
      state: 'ok',
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      description: info.description ?? '',
      // Chrome moved isFallbackAdapter from the adapter onto adapter.info; read whichever exists.
      isFallbackAdapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false),
      features: [...adapter.features].sort(),
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    };
  } catch (error) {
    return { state: 'error', ...EMPTY_GPU, error: error instanceof Error ? error.message : String(error) };
  }
}

export async function probeCapabilities(scope: typeof globalThis = globalThis): Promise<CapabilityReport> {
  const nav = scope.navigator as Navigator & { gpu?: GpuLike; deviceMemory?: number };
  return {
    crossOriginIsolated: scope.crossOriginIsolated === true,
    secureContext: scope.isSecureContext === true,
    sharedArrayBuffer: typeof scope.SharedArrayBuffer === 'function',
    hardwareConcurrency: nav?.hardwareConcurrency ?? 1,
    deviceMemoryGiB: nav?.deviceMemory ?? 0,
    wasm: probeWasm(),
    gpu: await probeGpu(nav?.gpu),
  };
}
