// bench-llama-f32-parity: bench-llama-q8_0's tensors (same seed) stored as F32, the 8-layer benchmark
// model without any activation rounding, held to the 5e-3 by the parity tests of every backend.
import { ensureModelFile } from './cache.ts';
import { modelSpec } from './registry.ts';
import { FILE_TYPE_ID } from './spec.ts';

export const BENCH_F32_PARITY = 'bench-llama-f32-parity';

/** Path of the F32 twin in .cache/models, generated on first use (its stamp names cpu-parity.test.ts, its first user). */
export function ensureBenchF32ParityModel(): string {
  const q8 = modelSpec('bench-llama-q8_0');
  return ensureModelFile({ ...q8, name: BENCH_F32_PARITY, type: 'F32', fileType: FILE_TYPE_ID.F32, description: 'bench-llama-q8_0 in F32, for cpu-parity.test.ts' });
}
