// Short strings of a GGUF header (vocabulary tokens, merges) decoded without TextDecoder: a decode
// call costs more than a short token itself, and a 150k-token vocabulary's header took about 1 s.

/** Strings up to this many bytes (vocabulary tokens, merges) are decoded by shortUtf8. */
export const SHORT_STRING = 48;

/**
 * One- and two-byte UTF-8 (ASCII, and the Ġ/Ċ of byte-level BPE vocabularies) decoded in place:
 * a TextDecoder call costs more than a short token itself (a 150k-token vocabulary's header took
 * about 1 s). undefined for anything else (longer sequences, invalid bytes): TextDecoder decides.
 */
export function shortUtf8(b: Uint8Array, from: number, to: number): string | undefined {
  let s = '';
  for (let i = from; i < to; i++) {
    const c = b[i];
    if (c < 0x80) s += String.fromCharCode(c);
    else if (c >= 0xc2 && c <= 0xdf && i + 1 < to && (b[i + 1] & 0xc0) === 0x80) s += String.fromCharCode(((c & 0x1f) << 6) | (b[++i] & 0x3f));
    else return undefined;
  }
  return s;
}
