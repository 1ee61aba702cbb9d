// The tokens bench:engine bans in wllama (partial UTF-8) on every vocabulary the engine's test
// models use: llama-spm's high byte tokens, and qwen2's byte-level partial characters.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseGgufHeader } from '../../src/gguf/reader.ts';
import { Tokenizer } from '../../src/tokenizer/tokenizer.ts';
import { vocabPath } from '../llama-source.ts';
import { partialUtf8Tokens } from './wllama.ts';

const tokenizer = (name: string) => Tokenizer.fromMetadata(parseGgufHeader(new Uint8Array(readFileSync(vocabPath(name)))).metadata);

describe('partialUtf8Tokens', () => {
  it('llama-spm: exactly the byte tokens <0x80>..<0xFF>', () => {
    const t = tokenizer('llama-spm');
    const banned = partialUtf8Tokens(t);
    expect(banned.map((id) => t.tokenText(id))).toEqual(Array.from({ length: 128 }, (_, i) => `<0x${(0x80 + i).toString(16).toUpperCase()}>`));
  });

  it('qwen2: every partial character, and no token that is whole text', () => {
    const t = tokenizer('qwen2');
    const banned = new Set(partialUtf8Tokens(t));
    expect(banned.size).toBeGreaterThan(256);
    expect(banned.size).toBeLessThan(t.size / 10);
    expect(banned.has(t.tokenize('hello')[0])).toBe(false);
    expect(banned.has(t.tokenize('世界')[0])).toBe(false);
    const e4 = t.tokenId('ä'); // byte 0xE4 in GPT-2's byte-to-unicode map: the first byte of a CJK character
    expect(e4).toBeDefined();
    expect(banned.has(e4!)).toBe(true);
  });
});
