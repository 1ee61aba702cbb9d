// What a tab (or the companion) can run: probed by src/client/capabilities.ts, shown by the UI, and later
// advertised to peers so the planner can give layers to the devices that can hold them.

export interface GpuReport {
  /** 'ok' = an adapter was granted; 'no-api' = no navigator.gpu; 'no-adapter' = requestAdapter gave null. */
  state: 'ok' | 'no-api' | 'no-adapter' | 'error';
  vendor: string;
  architecture: string;
  description: string;
  isFallbackAdapter: boolean;
  features: string[];
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  error?: string;
}

export interface WasmReport {
  supported: boolean;
  simd: boolean;
  relaxedSimd: boolean;
  /** Shared memory and atomics validate; usable only when the page is also crossOriginIsolated. */
  threads: boolean;
}

export interface CapabilityReport {
  crossOriginIsolated: boolean;
  secureContext: boolean;
  sharedArrayBuffer: boolean;
  hardwareConcurrency: number;
  /** navigator.deviceMemory (GiB, rounded by the browser); 0 where the browser does not say. */
  deviceMemoryGiB: number;
  wasm: WasmReport;
  gpu: GpuReport;
}
