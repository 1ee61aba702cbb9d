// Turns the capability probe and service-worker state into the rows of the status panel: plain data,
// so the wording and the verdicts are unit-tested without a DOM.
import type { CapabilityReport } from '../protocol/capabilities.ts';
import type { ServiceWorkerStatus } from '../client/service-worker.ts';
import { formatBytes } from './format.ts';

export type { ServiceWorkerStatus };

export type Verdict = 'ok' | 'limited' | 'missing' | 'pending';

export interface StatusRow {
  id: 'isolation' | 'offline' | 'webgpu' | 'wasm' | 'cpu' | 'memory';
  label: string;
  verdict: Verdict;
  value: string;
  detail: string;
}

export function isolationRow(report: CapabilityReport): StatusRow {
  return report.crossOriginIsolated
    ? {
        id: 'isolation',
        label: 'Cross-origin isolation',
        verdict: 'ok',
        value: 'Isolated',
        detail: 'Shared memory is available, so WebAssembly can use several threads.',
      }
    : {
        id: 'isolation',
        label: 'Cross-origin isolation',
        verdict: 'limited',
        value: 'Not isolated',
        detail: 'The server did not send Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy, so WebAssembly runs on one thread.',
      };
}

export function offlineRow(sw: ServiceWorkerStatus): StatusRow {
  const row = { id: 'offline', label: 'Offline app' } as const;
  switch (sw.state) {
    case 'unsupported':
      return {
        ...row,
        verdict: 'missing',
        value: 'Unavailable',
        detail: 'This browser (or a private window) offers no service workers; the app needs the network to open.',
      };
    case 'dev-server':
      return { ...row, verdict: 'limited', value: 'Off in development', detail: 'The service worker is part of the production build (npm run build).' };
    case 'error':
      return { ...row, verdict: 'missing', value: 'Failed', detail: `The service worker did not install: ${sw.error}` };
    case 'registering':
    case 'installing':
      return { ...row, verdict: 'pending', value: 'Saving…', detail: 'Keeping a copy of the app on this device so it opens without a network.' };
    case 'active': {
      const version = sw.version ? ` Version ${sw.version.slice(0, 8)}.` : '';
      if (sw.updateWaiting)
        return { ...row, verdict: 'ok', value: 'Update ready', detail: `A newer version is saved and starts on the next reload.${version}` };
      return sw.controlled
        ? { ...row, verdict: 'ok', value: 'Ready offline', detail: `This app opens without a network.${version}` }
        : { ...row, verdict: 'pending', value: 'Saved', detail: `Saved for offline use; it takes over on the next load.${version}` };
    }
  }
}

export function gpuRow(report: CapabilityReport): StatusRow {
  const row = { id: 'webgpu', label: 'WebGPU' } as const;
  const gpu = report.gpu;
  if (gpu.state === 'no-api')
    return { ...row, verdict: 'missing', value: 'Not available', detail: 'This browser has no WebGPU; layers would run on the CPU with WebAssembly.' };
  if (gpu.state === 'no-adapter')
    return {
      ...row,
      verdict: 'missing',
      value: 'No adapter',
      detail: 'WebGPU exists but offered no GPU (blocked, or no driver); layers would run on the CPU.',
    };
  if (gpu.state === 'error') return { ...row, verdict: 'missing', value: 'Failed', detail: `Asking for a GPU failed: ${gpu.error ?? 'unknown error'}` };
  const name = [gpu.vendor, gpu.architecture].filter(Boolean).join(' · ') || gpu.description || 'Unnamed adapter';
  const f16 = gpu.features.includes('shader-f16') ? 'half-precision shaders (shader-f16)' : 'no shader-f16, so f32 kernels';
  const limits = `Buffers up to ${formatBytes(gpu.maxBufferSize)}; ${f16}.`;
  return gpu.isFallbackAdapter
    ? { ...row, verdict: 'limited', value: name, detail: `Software adapter: correct but slow. ${limits}` }
    : { ...row, verdict: 'ok', value: name, detail: `Hardware adapter. ${limits}` };
}

export function wasmRow(report: CapabilityReport): StatusRow {
  const row = { id: 'wasm', label: 'WebAssembly' } as const;
  const { wasm } = report;
  if (!wasm.supported) return { ...row, verdict: 'missing', value: 'Not available', detail: 'This browser cannot run WebAssembly.' };
  const features = [wasm.simd && 'SIMD', wasm.relaxedSimd && 'relaxed SIMD', wasm.threads && report.crossOriginIsolated && 'threads'].filter(Boolean);
  const value = features.length ? features.join(' · ') : 'Baseline';
  if (!wasm.simd) return { ...row, verdict: 'limited', value, detail: 'No SIMD: CPU layers will be several times slower.' };
  if (!(wasm.threads && report.crossOriginIsolated)) {
    return { ...row, verdict: 'limited', value, detail: 'Single-threaded: threads need shared memory and cross-origin isolation.' };
  }
  return { ...row, verdict: 'ok', value, detail: 'Fast CPU path: vector instructions on several threads.' };
}

export function cpuRow(report: CapabilityReport): StatusRow {
  const n = report.hardwareConcurrency;
  return {
    id: 'cpu',
    label: 'CPU',
    verdict: n >= 2 ? 'ok' : 'limited',
    value: `${n} logical core${n === 1 ? '' : 's'}`,
    detail: 'What the browser reports; the tab leaves some for you.',
  };
}

export function memoryRow(report: CapabilityReport): StatusRow {
  return report.deviceMemoryGiB > 0
    ? {
        id: 'memory',
        label: 'Memory',
        verdict: 'ok',
        value: `≈ ${report.deviceMemoryGiB} GiB`,
        detail: 'Rounded by the browser for privacy; the memory budget you lend is set when you contribute.',
      }
    : { id: 'memory', label: 'Memory', verdict: 'pending', value: 'Not reported', detail: 'This browser does not say how much memory the device has.' };
}

export function statusRows(report: CapabilityReport, sw: ServiceWorkerStatus): StatusRow[] {
  return [gpuRow(report), wasmRow(report), isolationRow(report), offlineRow(sw), cpuRow(report), memoryRow(report)];
}

/** The one-line answer to "can this tab help?", shown above the rows. */
export function backendSummary(report: CapabilityReport): { backend: 'webgpu' | 'wasm' | 'none'; text: string } {
  if (report.gpu.state === 'ok' && !report.gpu.isFallbackAdapter) return { backend: 'webgpu', text: 'This tab can serve layers on its GPU.' };
  if (report.wasm.supported && report.gpu.state === 'ok') {
    return { backend: 'wasm', text: 'Only a software GPU is available here, so this tab would serve layers on the CPU.' };
  }
  if (report.wasm.supported) return { backend: 'wasm', text: 'No GPU is available to this tab; it can serve layers on the CPU.' };
  return { backend: 'none', text: 'This browser can chat through the mesh but cannot serve layers.' };
}
