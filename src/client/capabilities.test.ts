import { describe, expect, it } from 'vitest';
import { probeCapabilities, probeGpu, probeWasm, type AdapterLike } from './capabilities.ts';

const adapter = (overrides: Partial<AdapterLike> = {}): AdapterLike => ({
  features: new Set(['timestamp-query', 'shader-f16']),
  limits: { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 28 },
  info: { vendor: 'acme', architecture: 'rdna-9', description: 'Acme GPU', isFallbackAdapter: false },
  ...overrides,
});

describe('probeGpu', () => {
  it('reports the adapter, its sorted features and limits', async () => {
    const report = await probeGpu({ requestAdapter: async () => adapter() });
    expect(report).toMatchObject({
      state: 'ok',
      vendor: 'acme',
      architecture: 'rdna-9',
      isFallbackAdapter: false,
      features: ['shader-f16', 'timestamp-query'],
      maxBufferSize: 2 ** 30,
    });
  });

  it('reads isFallbackAdapter from the adapter itself in older browsers', async () => {
    const report = await probeGpu({ requestAdapter: async () => adapter({ info: { vendor: 'google' }, isFallbackAdapter: true }) });
    expect(report.isFallbackAdapter).toBe(true);
    expect(report.architecture).toBe('');
  });

  it('tells apart no API, no adapter and a failing request', async () => {
    expect((await probeGpu(undefined)).state).toBe('no-api');
    expect((await probeGpu({ requestAdapter: async () => null })).state).toBe('no-adapter');
    const failed = await probeGpu({ requestAdapter: async () => Promise.reject(new Error('GPU process crashed')) });
    expect(failed).toMatchObject({ state: 'error', error: 'GPU process crashed' });
  });
});

describe('probeWasm', () => {
  it('finds SIMD and threads in Node 22 (V8 has both)', () => {
    expect(probeWasm()).toEqual({ supported: true, simd: true, relaxedSimd: true, threads: true });
  });
});

describe('probeCapabilities', () => {
  it('reads isolation, cores and memory from the scope it is given', async () => {
    const scope = {
      crossOriginIsolated: true,
      isSecureContext: true,
      SharedArrayBuffer,
      navigator: { hardwareConcurrency: 12, deviceMemory: 8, gpu: { requestAdapter: async () => null } },
    } as unknown as typeof globalThis;
    const report = await probeCapabilities(scope);
    expect(report).toMatchObject({ crossOriginIsolated: true, hardwareConcurrency: 12, deviceMemoryGiB: 8, sharedArrayBuffer: true });
    expect(report.gpu.state).toBe('no-adapter');
  });
});
