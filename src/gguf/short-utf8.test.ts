// The short-string decoder agrees with TextDecoder wherever it answers, and leaves the rest to it.
import { describe, expect, it } from 'vitest';
import { shortUtf8 } from './short-utf8.ts';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

describe('shortUtf8', () => {
  it('decodes ASCII and two-byte UTF-8 as TextDecoder does', () => {
    for (const s of ['', 'hello', 'Ġthe', 'ĊĊ', 'naïve', 'Привет', 'αβγ', '\u0080\u07ff', '<|im_start|>']) {
      const b = enc.encode(s);
      expect(shortUtf8(b, 0, b.length)).toBe(s);
    }
    const b = enc.encode('xxĠabyy');
    expect(shortUtf8(b, 2, b.length - 2)).toBe('Ġab'); // a range inside a larger buffer
  });

  it('answers undefined for three- and four-byte sequences and invalid bytes, which TextDecoder then decodes', () => {
    const cases = [
      enc.encode('日本'),
      enc.encode('😀'),
      new Uint8Array([0xc0, 0x80]),
      new Uint8Array([0xc3]),
      new Uint8Array([0x41, 0xc3, 0x41]),
      new Uint8Array([0xff]),
    ];
    for (const b of cases) expect(shortUtf8(b, 0, b.length)).toBeUndefined();
    // Random bytes: wherever it answers, it answers as TextDecoder does.
    let seed = 7;
    for (let n = 0; n < 2000; n++) {
      const b = new Uint8Array(1 + (n % 12)).map(() => ((seed = (seed * 1103515245 + 12345) >>> 0) >> 16) & (n % 2 ? 0xff : 0xdf));
      const mine = shortUtf8(b, 0, b.length);
      if (mine !== undefined) expect(mine).toBe(dec.decode(b));
    }
  });
});
