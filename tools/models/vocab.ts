// Copies the tokenizer metadata of one of llama.cpp's vocabulary-only GGUFs, so a generated model
// tokenizes exactly as the real vocabulary does (in llama.cpp and in our own tokenizer).
import { readFileSync } from 'node:fs';
import { parseGgufHeader, type GgufValue } from '../../src/gguf/reader.ts';
import { gguf, type GgufMetaValue } from '../../src/gguf/writer.ts';
import { vocabPath } from '../llama-source.ts';

export interface Vocab {
  readonly name: string;
  readonly size: number;
  /** tokenizer.* entries with the GGUF types llama.cpp expects (ids u32, flags bool). */
  readonly metadata: ReadonlyArray<readonly [string, GgufMetaValue]>;
}

export function toMeta(key: string, v: GgufValue): GgufMetaValue {
  if (typeof v === 'string') return gguf.string(v);
  if (typeof v === 'boolean') return gguf.bool(v);
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? gguf.u32(v) : gguf.f32(v);
  if (v instanceof Float32Array) return gguf.array('f32', v);
  if (v instanceof Int32Array) return gguf.array('i32', v);
  if (v instanceof Uint32Array) return gguf.array('u32', v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return gguf.array('string', v as string[]);
  throw new Error(`vocabulary key ${key} has a value type this copier does not know`);
}

const cache = new Map<string, Vocab>();

export function loadVocab(name: string): Vocab {
  const hit = cache.get(name);
  if (hit) return hit;
  const header = parseGgufHeader(new Uint8Array(readFileSync(vocabPath(name))));
  const metadata: [string, GgufMetaValue][] = [];
  for (const [key, value] of header.metadata) {
    if (key.startsWith('tokenizer.')) metadata.push([key, toMeta(key, value)]);
  }
  const tokens = header.metadata.get('tokenizer.ggml.tokens');
  if (!Array.isArray(tokens)) throw new Error(`${vocabPath(name)} has no tokenizer.ggml.tokens`);
  const vocab = { name, size: tokens.length, metadata };
  cache.set(name, vocab);
  return vocab;
}
