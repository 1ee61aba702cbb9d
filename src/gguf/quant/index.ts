// One entry point for every tensor type the project reads and writes: quantizeRow turns float32 values
// into a type's bytes (byte-identical to llama.cpp's quantize_row_*_ref), dequantizeRow turns them back.
import { GgufError } from '../../protocol/errors.ts';
import { ggmlTypeInfo, ggmlTypeName, GgmlType } from '../ggml-types.ts';
import { dequantizeBF16, dequantizeF16, dequantizeF32, quantizeBF16, quantizeF16, quantizeF32 } from './float.ts';
import { dequantizeQ4_0, quantizeQ4_0 } from './q4-0.ts';
import { dequantizeQ4_K, quantizeQ4_K } from './q4-k.ts';
import { dequantizeQ5_0, quantizeQ5_0 } from './q5-0.ts';
import { dequantizeQ5_K, quantizeQ5_K } from './q5-k.ts';
import { dequantizeQ6_K, quantizeQ6_K } from './q6-k.ts';
import { dequantizeQ8_0, quantizeQ8_0 } from './q8-0.ts';

interface Codec {
  quantize(x: Float32Array): Uint8Array;
  dequantize(bytes: Uint8Array, n: number): Float32Array;
}

const codecs = new Map<number, Codec>([
  [GgmlType.F32, { quantize: quantizeF32, dequantize: dequantizeF32 }],
  [GgmlType.F16, { quantize: quantizeF16, dequantize: dequantizeF16 }],
  [GgmlType.BF16, { quantize: quantizeBF16, dequantize: dequantizeBF16 }],
  [GgmlType.Q8_0, { quantize: quantizeQ8_0, dequantize: dequantizeQ8_0 }],
  [GgmlType.Q4_0, { quantize: quantizeQ4_0, dequantize: dequantizeQ4_0 }],
  [GgmlType.Q5_0, { quantize: quantizeQ5_0, dequantize: dequantizeQ5_0 }],
  [GgmlType.Q4_K, { quantize: quantizeQ4_K, dequantize: dequantizeQ4_K }],
  [GgmlType.Q5_K, { quantize: quantizeQ5_K, dequantize: dequantizeQ5_K }],
  [GgmlType.Q6_K, { quantize: quantizeQ6_K, dequantize: dequantizeQ6_K }],
]);

/** The types quantizeRow and dequantizeRow handle. */
export const QUANT_TYPES: readonly number[] = [...codecs.keys()];

function codec(type: number, n: number): Codec {
  const c = codecs.get(type);
  if (!c) {
    throw new GgufError(
      'gguf_unsupported_type',
      `tensor type ${ggmlTypeName(type)} cannot be (de)quantized here; supported: ${QUANT_TYPES.map(ggmlTypeName).join(', ')}`,
    );
  }
  const block = ggmlTypeInfo(type)!.blockSize;
  if (n % block !== 0) throw new GgufError('gguf_corrupt', `${n} values are not whole ${ggmlTypeName(type)} blocks of ${block}`);
  return c;
}

/** Encodes `x` (any number of whole blocks, e.g. a row or a whole tensor) as `type`. */
export function quantizeRow(type: number, x: Float32Array): Uint8Array {
  return codec(type, x.length).quantize(x);
}

/** Decodes the first `n` values of `bytes`, which hold whole blocks of `type`. */
export function dequantizeRow(type: number, bytes: Uint8Array, n: number): Float32Array {
  const c = codec(type, n);
  const info = ggmlTypeInfo(type)!;
  const need = (n / info.blockSize) * info.typeSize;
  if (bytes.byteLength < need) throw new GgufError('gguf_truncated', `${n} ${info.name} values need ${need} bytes, got ${bytes.byteLength}`);
  return c.dequantize(bytes, n);
}
