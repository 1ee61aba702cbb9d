// The host-side rules of the WGSL kernels (the shaders themselves run in playwright/webgpu-*.spec.ts,
// where a WebGPU device exists).
import { describe, expect, it } from 'vitest';
import { GgmlType, SUPPORTED_TYPES } from '../../gguf/ggml-types.ts';
import { vecDotType } from '../reference/activation-rounding.ts';
import { decodeChunkWgsl, matmulThreadsPerRow, matmulWgsl, ROUND_NONE, roundingBlock, roundingMode, WGSL_WEIGHT_TYPES } from './index.ts';

describe('WGSL kernels (host side)', () => {
  it('decodes every type the engine supports, and refuses others by name', () => {
    expect([...WGSL_WEIGHT_TYPES].sort()).toEqual([...SUPPORTED_TYPES].sort());
    for (const t of WGSL_WEIGHT_TYPES) expect(decodeChunkWgsl(t)).toMatch(/fn decode_chunk\(rb: u32, c: u32\) -> array<f32, 32>/);
    expect(() => decodeChunkWgsl(GgmlType.Q2_K)).toThrow(/no decoder for Q2_K/);
  });

  it('rounds activations exactly when ggml converts them, over its block size', () => {
    for (const t of WGSL_WEIGHT_TYPES) expect(roundingMode(t) === ROUND_NONE).toBe(vecDotType(t) === GgmlType.F32);
    expect(roundingBlock(roundingMode(GgmlType.Q8_0))).toBe(32);
    expect(roundingBlock(roundingMode(GgmlType.Q6_K))).toBe(256);
  });

  it('shares a row among at most 64 threads, never more than its 32-value chunks', () => {
    expect(matmulThreadsPerRow(64)).toBe(2);
    expect(matmulThreadsPerRow(256)).toBe(8);
    expect(matmulThreadsPerRow(4096)).toBe(64);
    expect(matmulThreadsPerRow(4096, 1)).toBe(1);
    expect(matmulThreadsPerRow(96)).toBe(2); // 3 chunks: the largest power of two below
  });

  it('leaves workgroup memory and barriers out of the one-thread-per-row matmul', () => {
    expect(matmulWgsl(GgmlType.Q8_0, 1)).not.toMatch(/workgroupBarrier|var<workgroup>/);
    expect(matmulWgsl(GgmlType.Q8_0, 16)).toMatch(/workgroupBarrier/);
  });
});
