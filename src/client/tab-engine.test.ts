// Which backend "Use in this tab" picks and whether a model fits, from the capability probe.
import { describe, expect, it } from 'vitest';
import type { CapabilityReport } from '../protocol/capabilities.ts';
import { tabBackend, tabFit } from './tab-engine.ts';

const GiB = 2 ** 30;
function report(o: { memory?: number; gpu?: 'none' | 'fallback' | 'real'; maxBuffer?: number } = {}): CapabilityReport {
  const gpu = o.gpu ?? 'none';
  return {
    crossOriginIsolated: true,
    secureContext: true,
    sharedArrayBuffer: true,
    hardwareConcurrency: 4,
    deviceMemoryGiB: o.memory ?? 8,
    wasm: { supported: true, simd: true, relaxedSimd: true, threads: true },
    gpu: {
      state: gpu === 'none' ? 'no-adapter' : 'ok',
      vendor: '',
      architecture: '',
      description: '',
      isFallbackAdapter: gpu === 'fallback',
      features: [],
      maxBufferSize: o.maxBuffer ?? GiB,
      maxStorageBufferBindingSize: o.maxBuffer ?? GiB,
    },
  };
}

describe('tabFit', () => {
  it('runs on WebGPU only with a real adapter (SwiftShader runs WASM)', () => {
    expect(tabBackend(report({ gpu: 'real' }))).toBe('webgpu');
    expect(tabBackend(report({ gpu: 'fallback' }))).toBe('wasm');
    expect(tabBackend(report())).toBe('wasm');
  });

  it('fits a small model, and refuses what exceeds WASM memory or half the device, offering the mesh', () => {
    expect(tabFit(5_000_000, report()).fits).toBe(true);
    const big = tabFit(3.8 * GiB, report({ memory: 8 }));
    expect(big).toMatchObject({ fits: false, backend: 'wasm', limitBytes: 4 * GiB });
    expect(big.reason).toMatch(/^needs about 4\.4 GiB but this tab \(WASM memory holds at most 4 GiB\) can give it about 4\.0 GiB; join a mesh/);
    expect(tabFit(1.5 * GiB, report({ memory: 2 }))).toMatchObject({ fits: false, limitBytes: GiB });
    expect(tabFit(1.5 * GiB, report({ memory: 0 }))).toMatchObject({ fits: true }); // the browser does not say: WASM's limit only
  });
});
