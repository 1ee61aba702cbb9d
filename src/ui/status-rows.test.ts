import { describe, expect, it } from 'vitest';
import type { CapabilityReport } from '../protocol/capabilities.ts';
import { backendSummary, offlineRow, statusRows, type ServiceWorkerStatus } from './status-rows.ts';

const report = (over: Partial<CapabilityReport> = {}): CapabilityReport => ({
  crossOriginIsolated: true,
  secureContext: true,
  sharedArrayBuffer: true,
  hardwareConcurrency: 8,
  deviceMemoryGiB: 16,
  wasm: { supported: true, simd: true, relaxedSimd: true, threads: true },
  gpu: {
    state: 'ok',
    vendor: 'apple',
    architecture: 'metal-3',
    description: '',
    isFallbackAdapter: false,
    features: ['shader-f16'],
    maxBufferSize: 4 * 2 ** 30,
    maxStorageBufferBindingSize: 2 ** 30,
  },
  ...over,
});
const sw = (over: Partial<ServiceWorkerStatus> = {}): ServiceWorkerStatus => ({
  state: 'active',
  controlled: true,
  updateWaiting: false,
  version: '0123456789abcdef',
  error: '',
  ...over,
});
const byId = (rows: ReturnType<typeof statusRows>) => Object.fromEntries(rows.map((r) => [r.id, r]));

describe('statusRows', () => {
  it('gives a capable, isolated, offline-ready tab all ok verdicts', () => {
    const rows = statusRows(report(), sw());
    expect(rows.map((r) => r.verdict)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
    const r = byId(rows);
    expect(r.webgpu.value).toBe('apple · metal-3');
    expect(r.webgpu.detail).toContain('4 GiB');
    expect(r.wasm.value).toBe('SIMD · relaxed SIMD · threads');
    expect(r.offline.detail).toContain('01234567');
  });

  it('explains what is missing without isolation: no threads', () => {
    const r = byId(statusRows(report({ crossOriginIsolated: false }), sw()));
    expect(r.isolation.verdict).toBe('limited');
    expect(r.wasm.verdict).toBe('limited');
    expect(r.wasm.value).not.toContain('threads');
  });

  it('marks a software GPU as limited and says f32 kernels are used without shader-f16', () => {
    const gpu = { ...report().gpu, vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true, features: [] };
    const r = byId(statusRows(report({ gpu }), sw()));
    expect(r.webgpu.verdict).toBe('limited');
    expect(r.webgpu.detail).toMatch(/Software adapter/);
    expect(r.webgpu.detail).toMatch(/f32/);
  });

  it('covers every service worker state', () => {
    expect(offlineRow(sw({ state: 'unsupported' })).verdict).toBe('missing');
    expect(offlineRow(sw({ state: 'installing' })).verdict).toBe('pending');
    expect(offlineRow(sw({ controlled: false })).value).toBe('Saved');
    expect(offlineRow(sw({ updateWaiting: true })).value).toBe('Update ready');
    expect(offlineRow(sw({ state: 'error', error: 'bad MIME type' })).detail).toContain('bad MIME type');
  });
});

describe('backendSummary', () => {
  it('prefers a hardware GPU, then the CPU', () => {
    expect(backendSummary(report()).backend).toBe('webgpu');
    const fallback = { ...report().gpu, isFallbackAdapter: true };
    expect(backendSummary(report({ gpu: fallback })).backend).toBe('wasm');
    expect(backendSummary(report({ gpu: { ...fallback, state: 'no-api' } })).backend).toBe('wasm');
    expect(
      backendSummary(report({ wasm: { supported: false, simd: false, relaxedSimd: false, threads: false }, gpu: { ...fallback, state: 'no-api' } })).backend,
    ).toBe('none');
  });
});
