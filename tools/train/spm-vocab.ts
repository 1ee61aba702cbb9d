// Trains a small SentencePiece-style vocabulary (tokenizer.ggml.model "llama") by byte-pair merging
// on words: llama.cpp's SPM tokenizer merges the adjacent pair whose concatenation has the highest
// score, so each merged piece scores minus its merge rank. Pieces never span a word boundary ("▁"
// only starts a piece), byte-fallback tokens <0x00>..<0xFF> cover any other text, and the ids of
// <unk>, <s>, </s> are llama's (0, 1, 2), so llama.cpp and src/tokenizer tokenize it identically.
import { gguf, type GgufMetaValue } from '../../src/gguf/writer.ts';
import type { GgufValue } from '../../src/gguf/reader.ts';

const SPACE = '\u2581';
/** llama.cpp's llama_token_type: NORMAL 1, UNKNOWN 2, CONTROL 3, BYTE 6. */
const TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

export interface SpmVocab {
  readonly tokens: string[];
  readonly scores: Float32Array;
  readonly types: Int32Array;
}

function words(texts: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of texts) {
    for (const w of t.split(' ')) {
      if (w === '') continue;
      const key = SPACE + w;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** `size` tokens in all; deterministic (ties go to the lexicographically smaller pair). */
export function trainSpmVocab(texts: readonly string[], size: number): SpmVocab {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TYPE.unknown, TYPE.control, TYPE.control];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TYPE.byte);
  }
  const counts = words(texts);
  const chars = new Set<string>();
  for (const w of counts.keys()) for (const c of w) chars.add(c);
  const singles = [...chars].sort();
  const merges: string[] = [];

  const wordList = [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  const symbols = wordList.map(([w]) => [...w]);
  const freq = wordList.map(([, n]) => n);
  const pairCount = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const SEP = '\u0000';
  const addWord = (i: number, sign: number) => {
    const s = symbols[i];
    for (let j = 0; j + 1 < s.length; j++) {
      const key = s[j] + SEP + s[j + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * freq[i]);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(i);
      }
    }
  };
  for (let i = 0; i < symbols.length; i++) addWord(i, 1);

  const known = new Set([...tokens, ...singles]);
  while (tokens.length + singles.length + merges.length < size) {
    let best = '';
    let bestN = 0;
    for (const [key, n] of pairCount) if (n > bestN || (n === bestN && n > 0 && key < best)) [best, bestN] = [key, n];
    if (bestN < 2) break;
    const [a, b] = best.split(SEP);
    const merged = a + b;
    for (const i of pairWords.get(best) ?? []) {
      addWord(i, -1);
      const s = symbols[i];
      const out: string[] = [];
      for (let j = 0; j < s.length; j++) {
        if (j + 1 < s.length && s[j] === a && s[j + 1] === b) {
          out.push(merged);
          j++;
        } else out.push(s[j]);
      }
      symbols[i] = out;
      addWord(i, 1);
    }
    pairCount.delete(best);
    pairWords.delete(best);
    if (!known.has(merged)) {
      known.add(merged);
      merges.push(merged);
    }
  }
  const scores: number[] = tokens.map(() => 0);
  for (const c of singles) {
    tokens.push(c);
    types.push(TYPE.normal);
    scores.push(-1e6); // never the result of a merge, so never compared
  }
  merges.forEach((m, rank) => {
    tokens.push(m);
    types.push(TYPE.normal);
    scores.push(-rank);
  });
  return { tokens, scores: Float32Array.from(scores), types: Int32Array.from(types) };
}

/** The tokenizer.* entries of a GGUF for this vocabulary. */
export function spmMetadata(v: SpmVocab, chatTemplate: string): [string, GgufMetaValue][] {
  return [
    ['tokenizer.ggml.model', gguf.string('llama')],
    ['tokenizer.ggml.pre', gguf.string('default')],
    ['tokenizer.ggml.tokens', gguf.array('string', v.tokens)],
    ['tokenizer.ggml.scores', gguf.array('f32', v.scores)],
    ['tokenizer.ggml.token_type', gguf.array('i32', v.types)],
    ['tokenizer.ggml.unknown_token_id', gguf.u32(0)],
    ['tokenizer.ggml.bos_token_id', gguf.u32(1)],
    ['tokenizer.ggml.eos_token_id', gguf.u32(2)],
    ['tokenizer.ggml.add_bos_token', gguf.bool(true)],
    ['tokenizer.ggml.add_eos_token', gguf.bool(false)],
    ['tokenizer.ggml.add_space_prefix', gguf.bool(true)],
    ['tokenizer.chat_template', gguf.string(chatTemplate)],
  ];
}

/** The same entries as the GGUF reader returns them, for src/tokenizer's Tokenizer.fromMetadata. */
export function spmReaderMetadata(v: SpmVocab): Map<string, GgufValue> {
  return new Map<string, GgufValue>([
    ['tokenizer.ggml.model', 'llama'],
    ['tokenizer.ggml.pre', 'default'],
    ['tokenizer.ggml.tokens', v.tokens],
    ['tokenizer.ggml.scores', v.scores],
    ['tokenizer.ggml.token_type', v.types],
    ['tokenizer.ggml.unknown_token_id', 0],
    ['tokenizer.ggml.bos_token_id', 1],
    ['tokenizer.ggml.eos_token_id', 2],
    ['tokenizer.ggml.add_bos_token', true],
    ['tokenizer.ggml.add_eos_token', false],
    ['tokenizer.ggml.add_space_prefix', true],
  ]);
}
