// Byte-level BPE as llama.cpp's llm_tokenizer_bpe_session: within each pre-tokenized word,
// repeatedly merge the adjacent pair with the lowest merge rank (leftmost on ties).
import { Heap } from './heap.ts';
import type { Vocab } from './vocab.ts';

interface Bigram {
  left: number;
  right: number;
  text: string;
  rank: number;
}

/** Tokenizes one byte-encoded word, appending ids to `out`. */
export function bpeWord(vocab: Vocab, word: string, out: number[]): void {
  if (word.length === 0) return;
  if (vocab.ignoreMerges) {
    const whole = vocab.textToId.get(word);
    if (whole !== undefined) {
      out.push(whole);
      return;
    }
  }
  // One symbol per code point (one per byte for byte-encoded words).
  const start: number[] = [],
    len: number[] = [],
    prev: number[] = [],
    next: number[] = [];
  for (let i = 0; i < word.length; ) {
    const c = word.charCodeAt(i);
    const n = c >= 0xd800 && c <= 0xdbff && i + 1 < word.length ? 2 : 1;
    const idx = start.length;
    start.push(i);
    len.push(n);
    prev.push(idx - 1);
    i += n;
    next.push(i === word.length ? -1 : idx + 1);
  }
  const queue = new Heap<Bigram>((a, b) => a.rank < b.rank || (a.rank === b.rank && a.left < b.left));
  const symText = (i: number) => word.substr(start[i], len[i]);
  const addBigram = (left: number, right: number) => {
    if (left === -1 || right === -1) return;
    const l = symText(left),
      r = symText(right);
    const rank = vocab.ranks.get(`${l} ${r}`);
    if (rank === undefined) return;
    queue.push({ left, right, text: l + r, rank });
  };
  for (let i = 1; i < start.length; i++) addBigram(i - 1, i);
  for (let b = queue.pop(); b; b = queue.pop()) {
    if (len[b.left] === 0 || len[b.right] === 0) continue;
    if (symText(b.left) + symText(b.right) !== b.text) continue; // stale: a side changed since queued
    len[b.left] += len[b.right];
    len[b.right] = 0;
    next[b.left] = next[b.right];
    if (next[b.right] >= 0) prev[next[b.right]] = b.left;
    addBigram(prev[b.left], b.left);
    addBigram(b.left, next[b.left]);
  }
  for (let i = 0; i < start.length; i++) {
    if (len[i] === 0) continue;
    const piece = symText(i);
    const id = vocab.textToId.get(piece);
    if (id !== undefined) {
      out.push(id);
      continue;
    }
    // llama.cpp then looks up each byte of the piece's UTF-8 on its own: only ASCII can match
    for (let j = 0; j < piece.length; j++) {
      const c = piece.charCodeAt(j);
      const single = c < 0x80 ? vocab.textToId.get(piece[j]) : undefined;
      if (single !== undefined) out.push(single);
    }
  }
}
