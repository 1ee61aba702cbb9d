// Twins of registry models for the parity tests. bench-llama-f32-parity: bench-llama-q8_0's tensors
// (same seed) stored as F32, the 8-layer benchmark model without any activation rounding, held to the
// issue's 5e-3 by the parity tests of every backend.
import { ensureModelFile } from './cache.ts';
import { modelSpec } from './registry.ts';
import { FILE_TYPE_ID } from './spec.ts';

export const BENCH_F32_PARITY = 'bench-llama-f32-parity';

/** Path of the F32 twin in .cache/models, generated on first use (its stamp names cpu-parity.test.ts, its first user). */
export function ensureBenchF32ParityModel(): string {
  const q8 = modelSpec('bench-llama-q8_0');
  return ensureModelFile({
    ...q8,
    name: BENCH_F32_PARITY,
    type: 'F32',
    fileType: FILE_TYPE_ID.F32,
    description: 'bench-llama-q8_0 in F32, for cpu-parity.test.ts',
  });
}

export const QWEN_SHAPE_2L = 'qwen2.5-0.5b-shape-2l-q4_k_m';

/**
 * The first two layers of qwen2.5-0.5b-shape-q4_k_m (same seed, same Q4_K_M rules: layer 0 takes the
 * plain types, layer 1 the use_more_bits ones): every tensor type at Qwen2.5-0.5B's widths, shallow
 * enough that activation rounding flips do not compound, so it is held to the tiny models' bound.
 */
export function ensureQwenShapeTwoLayerModel(): string {
  const deep = modelSpec('qwen2.5-0.5b-shape-q4_k_m');
  return ensureModelFile({
    ...deep,
    name: QWEN_SHAPE_2L,
    shape: { ...deep.shape, layers: 2 },
    description: 'first two layers of qwen2.5-0.5b-shape-q4_k_m, for real-shape-parity.test.ts',
  });
}
