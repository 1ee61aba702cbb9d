import { expect, it } from 'vitest';
import { byteToUnicode, codepoints, cptFlags, CPT_LETTER, CPT_NUMBER, CPT_WHITESPACE, CPT_ACCENT_MARK, unicodeToByte } from './unicode.ts';

it('maps all 256 bytes to distinct printable characters and back (GPT-2 byte alphabet)', () => {
  const chars = new Set<string>();
  for (let b = 0; b < 256; b++) {
    const c = byteToUnicode(b);
    chars.add(c);
    expect(unicodeToByte(c.codePointAt(0)!)).toBe(b);
  }
  expect(chars.size).toBe(256);
  expect(byteToUnicode(0x20)).toBe('Ġ');
  expect(byteToUnicode(0x0a)).toBe('Ċ');
  expect(byteToUnicode(0x41)).toBe('A');
});

it('classifies code points as llama.cpp does', () => {
  expect(cptFlags(0x41) & CPT_LETTER).toBeTruthy();
  expect(cptFlags(0x663) & CPT_NUMBER).toBeTruthy(); // Arabic-Indic digit three
  expect(cptFlags(0x301) & CPT_ACCENT_MARK).toBeTruthy();
  expect(cptFlags(0x3000) & CPT_WHITESPACE).toBeTruthy();
  expect(cptFlags(0x85) & CPT_WHITESPACE).toBeTruthy();
  expect(cptFlags(0x200b) & CPT_WHITESPACE).toBe(0); // zero-width space is not \s for llama.cpp
  expect(cptFlags(0x110000)).toBe(0);
});

it('reads code points from UTF-16, lone surrogates as U+FFFD', () => {
  expect([...codepoints('a🦙\ud800b')]).toEqual([0x61, 0x1f999, 0xfffd, 0x62]);
});
