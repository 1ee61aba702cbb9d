// F32, F16 and BF16 rows: plain element-wise conversions (ggml_fp32_to_fp16_row, ggml_fp32_to_bf16_row).
import { bf16ToFp32, fp16ToFp32, fp32ToBf16, fp32ToFp16 } from './half.ts';

export function quantizeF32(x: Float32Array): Uint8Array {
  return new Uint8Array(x.slice().buffer);
}

export function dequantizeF32(bytes: Uint8Array, n: number): Float32Array {
  return new Float32Array(bytes.slice(0, n * 4).buffer);
}

function halves(n: number, bytes: Uint8Array): Uint16Array {
  return new Uint16Array(bytes.buffer, bytes.byteOffset, n);
}

function toHalves(x: Float32Array, convert: (v: number) => number): Uint8Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = convert(x[i]);
  return new Uint8Array(out.buffer);
}

function fromHalves(bytes: Uint8Array, n: number, convert: (h: number) => number): Float32Array {
  const h = bytes.byteOffset % 2 === 0 ? halves(n, bytes) : new Uint16Array(bytes.slice(0, n * 2).buffer);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = convert(h[i]);
  return out;
}

export const quantizeF16 = (x: Float32Array): Uint8Array => toHalves(x, fp32ToFp16);
export const dequantizeF16 = (bytes: Uint8Array, n: number): Float32Array => fromHalves(bytes, n, fp16ToFp32);
export const quantizeBF16 = (x: Float32Array): Uint8Array => toHalves(x, fp32ToBf16);
export const dequantizeBF16 = (bytes: Uint8Array, n: number): Float32Array => fromHalves(bytes, n, bf16ToFp32);
