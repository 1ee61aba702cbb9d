import { describe, expect, it } from 'vitest';
import { decodeFieldSection, encodeFieldSection, huffmanDecode, QpackError } from './qpack.ts';

const hex = (s: string) => Uint8Array.from(s.replace(/\s/g, '').match(/../g) ?? [], (h) => Number.parseInt(h, 16));

describe('qpack', () => {
  it('decodes RFC 7541 Appendix C Huffman strings', () => {
    expect(huffmanDecode(hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff'))).toBe('www.example.com');
    expect(huffmanDecode(hex('a8eb 1064 9cbf'))).toBe('no-cache');
    expect(huffmanDecode(hex('25a8 49e9 5ba9 7d7f'))).toBe('custom-key');
    expect(huffmanDecode(hex('25a8 49e9 5bb8 e8b4 bf'))).toBe('custom-value');
  });

  it('refuses Huffman padding that is not the start of EOS', () => {
    expect(() => huffmanDecode(hex('f1e3 c2e5 f23a 6ba0 ab90 f400'))).toThrow(QpackError);
  });

  it('round-trips fields through static references and literals', () => {
    const fields = [
      [':status', '200'],
      [':method', 'CONNECT'],
      [':path', '/.well-known/libp2p-webtransport?type=noise'],
      ['sec-webtransport-http3-draft', 'draft02'],
    ] as const;
    const bytes = encodeFieldSection(fields);
    expect(bytes[2]).toBe(0xc0 | 25);
    expect(decodeFieldSection(bytes)).toEqual(fields);
  });

  it('decodes Huffman literals with name references, as Chrome sends', () => {
    // 0x50 = literal, static name :authority (0); 0x8c = a Huffman value of 12 bytes.
    const section = Uint8Array.from([0, 0, 0x50 | 0, 0x80 | 12, ...hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff')]);
    expect(decodeFieldSection(section)).toEqual([[':authority', 'www.example.com']]);
  });

  it('refuses a dynamic table reference and a truncated section', () => {
    expect(() => decodeFieldSection(Uint8Array.from([1, 0, 0xd9]))).toThrow(/dynamic table/);
    expect(() => decodeFieldSection(Uint8Array.from([0, 0, 0x80]))).toThrow(/dynamic table/);
    expect(() => decodeFieldSection(Uint8Array.from([0, 0, 0x5f]))).toThrow(QpackError);
    expect(() => decodeFieldSection(Uint8Array.from([0, 0, 0xff, 0x7f]))).toThrow(/static table entry/);
  });
});
