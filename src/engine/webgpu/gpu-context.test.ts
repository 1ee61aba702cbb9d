import { describe, expect, it } from 'vitest';
import { hasWebGpu, requestGpuDevice } from './device.ts';
import { f32Bits, foldGroups } from './gpu-context.ts';

describe('WebGPU host helpers', () => {
  it('folds large dispatches into x·y under the per-dimension limit', () => {
    expect(foldGroups(1)).toEqual([1, 1]);
    expect(foldGroups(65535)).toEqual([65535, 1]);
    const [x, y] = foldGroups(151936 * 4);
    expect(x).toBeLessThanOrEqual(65535);
    expect(x * y).toBeGreaterThanOrEqual(151936 * 4);
  });

  it('passes f32 uniform fields as their bits', () => {
    expect(f32Bits(1)).toBe(0x3f800000);
    expect(f32Bits(-2)).toBe(0xc0000000);
  });

  it('refuses clearly where there is no WebGPU (Node)', async () => {
    expect(hasWebGpu()).toBe(false);
    await expect(requestGpuDevice()).rejects.toMatchObject({ code: 'engine_backend_unavailable', message: /navigator\.gpu does not exist.*"cpu" backend/ });
  });
});
