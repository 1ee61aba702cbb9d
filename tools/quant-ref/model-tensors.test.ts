// The tensors inside the generated model files are byte-identical to what llama.cpp's reference
// quantizers make of the same float32 weights (the files, not only the quantizer functions).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GgmlType, ggmlTypeName } from '../../src/gguf/ggml-types.ts';
import { parseGgufHeader } from '../../src/gguf/reader.ts';
import { sourceTensors } from '../models/build.ts';
import { ensureModel, modelSpec } from '../models/registry.ts';
import { quantizeWithLlamaCpp } from './quant-ref.ts';

const MODELS = [
  'tiny-llama-f16',
  'tiny-llama-bf16',
  'tiny-llama-q8_0',
  'tiny-llama-q4_0',
  'tiny-llama-q5_0',
  'small-llama-q4_k',
  'small-llama-q5_k',
  'small-llama-q4_k_m',
];

describe.each(MODELS)('%s', (name) => {
  it('stores every layer tensor exactly as llama.cpp quantizes its weights', async () => {
    const bytes = new Uint8Array(readFileSync(await ensureModel(name)));
    const header = parseGgufHeader(bytes);
    // Layer tensors and the norms; the vocabulary-sized ones are the same code on more rows.
    const sources = sourceTensors(modelSpec(name)).filter((t) => t.name.startsWith('blk.') || (name.endsWith('q4_k_m') && t.name === 'output.weight'));
    const checked = new Set<number>();
    for (const source of sources) {
      const stored = header.tensors.find((t) => t.name === source.name)!;
      expect(stored.type, source.name).toBe(source.type);
      const data = bytes.subarray(stored.fileOffset, stored.fileOffset + stored.byteSize);
      if (source.type === GgmlType.F32) {
        expect(Buffer.from(data).equals(Buffer.from(source.values().buffer)), source.name).toBe(true);
        continue;
      }
      const expected = quantizeWithLlamaCpp(ggmlTypeName(source.type), [source.values()]);
      expect(Buffer.from(data).equals(Buffer.from(expected)), `${source.name} (${ggmlTypeName(source.type)})`).toBe(true);
      checked.add(source.type);
    }
    expect(checked.size).toBeGreaterThan(0);
    if (name.endsWith('q4_k_m')) expect([...checked].sort()).toEqual([GgmlType.Q4_K, GgmlType.Q6_K]);
  });
});
