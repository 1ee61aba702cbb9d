// Code point classification and UTF-8 helpers with llama.cpp's semantics (src/unicode.cpp):
// categories come from llama.cpp's own table, and GPT-2's byte <-> printable-char mapping.
import { UNICODE_RANGES_FLAGS, UNICODE_WHITESPACE } from './unicode-data.ts';

export const CPT_UNDEFINED = 0x0001;
export const CPT_NUMBER = 0x0002;
export const CPT_LETTER = 0x0004;
export const CPT_SEPARATOR = 0x0008;
export const CPT_ACCENT_MARK = 0x0010;
export const CPT_PUNCTUATION = 0x0020;
export const CPT_SYMBOL = 0x0040;
export const CPT_CONTROL = 0x0080;
export const CPT_CATEGORIES = 0x00ff;
export const CPT_WHITESPACE = 0x0100;

const MAX_CODEPOINTS = 0x110000;
let table: Uint16Array | undefined;

/** One entry per code point, built on first use (2 MiB, a few milliseconds). */
function flagsTable(): Uint16Array {
  if (table) return table;
  const t = new Uint16Array(MAX_CODEPOINTS);
  const r = UNICODE_RANGES_FLAGS;
  for (let i = 0; i + 2 < r.length; i += 2) t.fill(r[i + 1], r[i], r[i + 2]);
  for (const cp of UNICODE_WHITESPACE) t[cp] |= CPT_WHITESPACE;
  table = t;
  return t;
}

/** llama.cpp's unicode_cpt_flags_from_cpt as a bit set; 0 for code points outside Unicode. */
export function cptFlags(cp: number): number {
  return cp >= 0 && cp < MAX_CODEPOINTS ? flagsTable()[cp] : 0;
}

/** Code points of a JS string. Lone surrogates become U+FFFD, as UTF-8 encoding would make them. */
export function codepoints(text: string): Uint32Array {
  const out = new Uint32Array(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else c = 0xfffd;
    } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    out[n++] = c;
  }
  return out.subarray(0, n);
}

export function fromCodepoints(cps: ArrayLike<number>, start = 0, end = cps.length): string {
  let s = '';
  for (let i = start; i < end; i += 4096) {
    s += String.fromCodePoint(...Array.prototype.slice.call(cps, i, Math.min(end, i + 4096)));
  }
  return s;
}

const encoder = new TextEncoder();
export function utf8Bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** GPT-2's byte-level BPE alphabet: every byte maps to a printable code point. */
function buildByteMaps(): { toChar: string[]; toByte: Map<number, number> } {
  const toChar: string[] = new Array(256);
  const toByte = new Map<number, number>();
  const direct = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const cp = direct(b) ? b : 256 + n++;
    toChar[b] = String.fromCodePoint(cp);
    toByte.set(cp, b);
  }
  return { toChar, toByte };
}
const byteMaps = buildByteMaps();

/** unicode_byte_to_utf8: the printable character standing for one byte. */
export function byteToUnicode(b: number): string {
  return byteMaps.toChar[b];
}

/** unicode_utf8_to_byte: the byte a printable character stands for, or undefined. */
export function unicodeToByte(cp: number): number | undefined {
  return byteMaps.toByte.get(cp);
}
