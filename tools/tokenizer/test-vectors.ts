// Test-only helpers: llama.cpp's vocabulary GGUFs and their tokenizer test vectors (.inp/.out),
// read as tests/test-tokenizer-0.cpp reads them. Node-only; not part of the browser bundle.
import { existsSync, readFileSync } from 'node:fs';
import { parseGgufHeader } from '../../src/gguf/reader.ts';
import { vocabPath } from '../llama-source.ts';

export interface TokenizerVector {
  text: string;
  ids: number[];
}

export function vocabMetadata(name: string) {
  return parseGgufHeader(new Uint8Array(readFileSync(vocabPath(name)))).metadata;
}

export function hasVectors(name: string): boolean {
  return existsSync(`${vocabPath(name)}.inp`);
}

/** The .inp inputs split on "\n__ggml_vocab_test__\n", paired with the .out id lines. */
export function readVectors(name: string): TokenizerVector[] {
  const path = vocabPath(name);
  const raw = readFileSync(`${path}.inp`, 'utf8');
  const outLines = readFileSync(`${path}.out`, 'utf8').split('\n');
  if (outLines[outLines.length - 1] === '') outLines.pop();
  const sep = '\n__ggml_vocab_test__\n';
  const inputs: string[] = [];
  for (let pos = 0; pos < raw.length; ) {
    const next = raw.indexOf(sep, pos);
    if (next < 0) {
      inputs.push(raw.slice(pos));
      break;
    }
    inputs.push(raw.slice(pos, next));
    pos = next + sep.length;
  }
  if (inputs.length !== outLines.length) throw new Error(`${name}: ${inputs.length} inputs but ${outLines.length} outputs`);
  return inputs.map((text, i) => {
    const o = outLines[i].trim();
    return { text, ids: o === '' ? [] : o.split(' ').map(Number) };
  });
}
