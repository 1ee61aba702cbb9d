// Decodes one row of a weight, in its ggml encoding, to f32: a thin adapter over the project's
// dequantizers (gguf/quant/), so every backend's tests share one definition of each format.
import { dequantizeRow } from '../../gguf/quant/index.ts';

/** Writes `n` values decoded from `bytes` (whole blocks of `type`) into out[0..n). */
export function decodeRow(type: number, bytes: Uint8Array, n: number, out: Float32Array): void {
  out.set(dequantizeRow(type, bytes, n));
}
