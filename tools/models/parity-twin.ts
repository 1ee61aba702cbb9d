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

export const TIED_HD48_F32 = 'tied-llama-hd48-f32';

/** tied-llama-hd48-f16's tensors (same seed) in F32: the same shape with no f16 rounding anywhere. */
export function ensureTiedHd48F32Model(): string {
  const f16 = modelSpec('tied-llama-hd48-f16');
  return ensureModelFile({
    ...f16,
    name: TIED_HD48_F32,
    type: 'F32',
    fileType: FILE_TYPE_ID.F32,
    description: 'tied-llama-hd48-f16 in F32, for f16-tied-parity.test.ts',
  });
}

export const QWEN_SHAPE_F32 = 'qwen2.5-0.5b-shape-f32';

/**
 * qwen2.5-0.5b-shape-q4_k_m's tensors (same seed) in F32: Qwen2.5-0.5B's shapes with no activation
 * rounding, held to 5e-3 of llama.cpp. About 2 GB, made on first use (test:full).
 */
export function ensureQwenShapeF32Model(): string {
  const q = modelSpec('qwen2.5-0.5b-shape-q4_k_m');
  return ensureModelFile({
    ...q,
    name: QWEN_SHAPE_F32,
    type: 'F32',
    fileType: FILE_TYPE_ID.F32,
    description: 'qwen2.5-0.5b-shape-q4_k_m in F32, for real-shape-parity.test.ts',
  });
}
