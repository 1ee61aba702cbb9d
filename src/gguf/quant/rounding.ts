// C rounding helpers exactly as ggml uses them, for float32 inputs.
import { f32Bits } from './half.ts';

/** roundf: halves away from zero (Math.round rounds -2.5 to -2). */
export function roundAwayFromZero(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/**
 * ggml's nearest_int: adds 1.5·2^23 in float32 and reads the mantissa bits (round half to even).
 * Done with the same bit trick, so out-of-range inputs give the same garbage as the C code.
 */
export function nearestInt(x: number): number {
  const v = Math.fround(x + 12582912);
  // In range (|x| ≤ 2^22 - 1, all ggml asks for) the mantissa trick is exactly this subtraction.
  if (v >= 8388608 && v < 16777216) return v - 12582912;
  const bits = f32Bits(v);
  return (bits & 0x007fffff) - 0x00400000;
}
