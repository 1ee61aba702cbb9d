// SentencePiece-style tokenization as llama.cpp's llm_tokenizer_spm_session: start from single
// characters, repeatedly merge the adjacent pair whose merged text is the highest-scoring token
// (leftmost on ties), and spell any character with no token as its UTF-8 bytes (<0xXX> tokens).
import { TokenizerError } from './errors.ts';
import { Heap } from './heap.ts';
import { utf8Bytes } from './unicode.ts';
import type { Vocab } from './vocab.ts';

interface Bigram {
  left: number;
  right: number;
  score: number;
  size: number;
}

/** byte_to_token for SPM: the <0xXX> token, else the one-character token for an ASCII byte. */
export function spmByteToken(vocab: Vocab, byte: number): number {
  const hex = byte.toString(16).toUpperCase().padStart(2, '0');
  const id = vocab.textToId.get(`<0x${hex}>`) ?? (byte < 0x80 ? vocab.textToId.get(String.fromCharCode(byte)) : undefined);
  if (id === undefined) {
    throw new TokenizerError(
      'tokenizer_bad_input',
      `the vocabulary has no token for byte 0x${hex} (no <0x${hex}> byte-fallback token), so this text cannot be tokenized with it`,
    );
  }
  return id;
}

/** Tokenizes text whose spaces are already escaped as U+2581, appending ids to `out`. */
export function spmTokenize(vocab: Vocab, text: string, out: number[]): void {
  // Symbols are the code points of the text, linked into a list as they merge.
  const start: number[] = [],
    len: number[] = [],
    prev: number[] = [],
    next: number[] = [];
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    const n = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 2 : 1;
    const idx = start.length;
    start.push(i);
    len.push(n);
    prev.push(idx - 1);
    i += n;
    next.push(i === text.length ? -1 : idx + 1);
  }
  if (start.length === 0) return;
  const queue = new Heap<Bigram>((a, b) => a.score > b.score || (a.score === b.score && a.left < b.left));
  const tryAdd = (left: number, right: number) => {
    if (left === -1 || right === -1) return;
    const size = len[left] + len[right];
    const id = vocab.textToId.get(text.substr(start[left], size));
    if (id === undefined) return;
    queue.push({ left, right, score: vocab.scores[id], size });
  };
  for (let i = 1; i < start.length; i++) tryAdd(i - 1, i);
  for (let b = queue.pop(); b; b = queue.pop()) {
    // a pair whose symbols changed since it was queued is stale
    if (len[b.left] === 0 || len[b.right] === 0 || len[b.left] + len[b.right] !== b.size) continue;
    len[b.left] += len[b.right];
    len[b.right] = 0;
    next[b.left] = next[b.right];
    if (next[b.right] >= 0) prev[next[b.right]] = b.left;
    tryAdd(prev[b.left], b.left);
    tryAdd(b.left, next[b.left]);
  }
  for (let i = 0; i !== -1; i = next[i]) {
    const piece = text.substr(start[i], len[i]);
    const id = vocab.textToId.get(piece);
    if (id !== undefined) {
      out.push(id);
      continue;
    }
    // every merged symbol is a token, so this is a single character: spell it as bytes
    for (const byte of utf8Bytes(piece)) out.push(spmByteToken(vocab, byte));
  }
}
