// The QPACK a WebTransport endpoint needs (RFC 9204): field sections that use only the static table
// and literals. Both sides announce a zero-capacity dynamic table (the default), so a peer that
// refers to one breaks the protocol and gets an error. Huffman-coded strings (RFC 7541 Appendix B,
// which Chrome sends) are decoded; what this side writes is plain literals.
import { MeshError } from '../protocol/errors.ts';

export class QpackError extends MeshError {
  constructor(message: string) {
    super('qpack_malformed', message);
    this.name = 'QpackError';
  }
}

export type HeaderField = readonly [name: string, value: string];

/** RFC 9204 Appendix A, index order. */
const STATIC: readonly HeaderField[] = [
  [':authority', ''],
  [':path', '/'],
  ['age', '0'],
  ['content-disposition', ''],
  ['content-length', '0'],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['referer', ''],
  ['set-cookie', ''],
  [':method', 'CONNECT'],
  [':method', 'DELETE'],
  [':method', 'GET'],
  [':method', 'HEAD'],
  [':method', 'OPTIONS'],
  [':method', 'POST'],
  [':method', 'PUT'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '103'],
  [':status', '200'],
  [':status', '304'],
  [':status', '404'],
  [':status', '503'],
  ['accept', '*/*'],
  ['accept', 'application/dns-message'],
  ['accept-encoding', 'gzip, deflate, br'],
  ['accept-ranges', 'bytes'],
  ['access-control-allow-headers', 'cache-control'],
  ['access-control-allow-headers', 'content-type'],
  ['access-control-allow-origin', '*'],
  ['cache-control', 'max-age=0'],
  ['cache-control', 'max-age=2592000'],
  ['cache-control', 'max-age=604800'],
  ['cache-control', 'no-cache'],
  ['cache-control', 'no-store'],
  ['cache-control', 'public, max-age=31536000'],
  ['content-encoding', 'br'],
  ['content-encoding', 'gzip'],
  ['content-type', 'application/dns-message'],
  ['content-type', 'application/javascript'],
  ['content-type', 'application/json'],
  ['content-type', 'application/x-www-form-urlencoded'],
  ['content-type', 'image/gif'],
  ['content-type', 'image/jpeg'],
  ['content-type', 'image/png'],
  ['content-type', 'text/css'],
  ['content-type', 'text/html; charset=utf-8'],
  ['content-type', 'text/plain'],
  ['content-type', 'text/plain;charset=utf-8'],
  ['range', 'bytes=0-'],
  ['strict-transport-security', 'max-age=31536000'],
  ['strict-transport-security', 'max-age=31536000; includesubdomains'],
  ['strict-transport-security', 'max-age=31536000; includesubdomains; preload'],
  ['vary', 'accept-encoding'],
  ['vary', 'origin'],
  ['x-content-type-options', 'nosniff'],
  ['x-xss-protection', '1; mode=block'],
  [':status', '100'],
  [':status', '204'],
  [':status', '206'],
  [':status', '302'],
  [':status', '400'],
  [':status', '403'],
  [':status', '421'],
  [':status', '425'],
  [':status', '500'],
  ['accept-language', ''],
  ['access-control-allow-credentials', 'FALSE'],
  ['access-control-allow-credentials', 'TRUE'],
  ['access-control-allow-headers', '*'],
  ['access-control-allow-methods', 'get'],
  ['access-control-allow-methods', 'get, post, options'],
  ['access-control-allow-methods', 'options'],
  ['access-control-expose-headers', 'content-length'],
  ['access-control-request-headers', 'content-type'],
  ['access-control-request-method', 'get'],
  ['access-control-request-method', 'post'],
  ['alt-svc', 'clear'],
  ['authorization', ''],
  ['content-security-policy', "script-src 'none'; object-src 'none'; base-uri 'none'"],
  ['early-data', '1'],
  ['expect-ct', ''],
  ['forwarded', ''],
  ['if-range', ''],
  ['origin', ''],
  ['purpose', 'prefetch'],
  ['server', ''],
  ['timing-allow-origin', '*'],
  ['upgrade-insecure-requests', '1'],
  ['user-agent', ''],
  ['x-forwarded-for', ''],
  ['x-frame-options', 'deny'],
  ['x-frame-options', 'sameorigin'],
];

/**
 * The Huffman code's length for each symbol 0…256 (EOS last), as letters: 'a' is 5 bits. The code is
 * canonical (codes of one length count up in symbol order, each length starting where the shorter
 * ones left off), so the lengths alone rebuild RFC 7541's table.
 */
const HUFFMAN_LENGTHS =
  'isxxxxxxxtzxxzxxxxxxxxzxxxxxxxxxbffhibdgffdgdbbbaaabbbbbbbcdkbhfibccccccccccccccccccccccdcdioijbkabababbbaccbbbabcbaabccccckgjixprpprrrsrssssststtrstssssqrsrsstrqprrssqsrrtqrssqqrqsrssprrrsrrsvvporsruvvvwwvtuoqvwwvwtqqvvxwwwptpqrqqsrruuttvsvwvvwwwwwxwwwwwvz';

/** `${length}:${code}` → symbol, built once from the lengths. */
const HUFFMAN = (() => {
  const lengths = [...HUFFMAN_LENGTHS].map((c) => c.charCodeAt(0) - 97 + 5);
  const order = lengths.map((_, s) => s).sort((a, b) => lengths[a] - lengths[b] || a - b);
  const table = new Map<string, number>();
  let code = 0;
  order.forEach((symbol, i) => {
    if (i > 0) code = (code + 1) * 2 ** (lengths[symbol] - lengths[order[i - 1]]);
    table.set(`${lengths[symbol]}:${code}`, symbol);
  });
  return table;
})();

export function huffmanDecode(bytes: Uint8Array): string {
  const out: number[] = [];
  let code = 0;
  let length = 0;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      length++;
      const symbol = length >= 5 ? HUFFMAN.get(`${length}:${code}`) : undefined;
      if (symbol === 256) throw new QpackError('a Huffman string holds the end-of-string symbol');
      if (symbol !== undefined) {
        out.push(symbol);
        code = 0;
        length = 0;
      } else if (length > 30) throw new QpackError('a Huffman string holds a code no table has');
    }
  }
  // What is left must be padding: fewer than 8 bits, all ones (the start of EOS).
  if (length > 7 || code !== 2 ** length - 1) throw new QpackError('a Huffman string ends in bad padding');
  return new TextDecoder().decode(Uint8Array.from(out));
}

/** A prefixed integer (RFC 7541 §5.1) at `at`, whose first byte's low `bits` bits start it. */
function readInteger(bytes: Uint8Array, at: number, bits: number): { value: number; next: number } {
  if (at >= bytes.length) throw new QpackError('a field section ends inside an integer');
  const max = 2 ** bits - 1;
  let value = bytes[at] & max;
  let next = at + 1;
  if (value < max) return { value, next };
  for (let shift = 0; ; shift += 7) {
    if (next >= bytes.length) throw new QpackError('a field section ends inside an integer');
    if (shift > 28) throw new QpackError('a field section holds an integer too large');
    const b = bytes[next++];
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return { value, next };
  }
}

function writeInteger(value: number, bits: number, flags: number): number[] {
  const max = 2 ** bits - 1;
  if (value < max) return [flags | value];
  const out = [flags | max];
  let rest = value - max;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return out;
}

/** A string literal whose length prefix has `bits` bits, the Huffman flag just above them. */
function readString(bytes: Uint8Array, at: number, bits: number): { value: string; next: number } {
  const huffman = (bytes[at] & (1 << bits)) !== 0;
  const { value: length, next } = readInteger(bytes, at, bits);
  if (next + length > bytes.length) throw new QpackError('a field section ends inside a string');
  const raw = bytes.subarray(next, next + length);
  return { value: huffman ? huffmanDecode(raw) : new TextDecoder().decode(raw), next: next + length };
}

function staticEntry(index: number): HeaderField {
  const entry = STATIC[index];
  if (!entry) throw new QpackError(`a field refers to static table entry ${index}, which does not exist`);
  return entry;
}

/** The fields of an encoded field section; refuses any reference to the dynamic table. */
export function decodeFieldSection(bytes: Uint8Array): HeaderField[] {
  const insertCount = readInteger(bytes, 0, 8);
  const base = readInteger(bytes, insertCount.next, 7);
  if (insertCount.value !== 0) throw new QpackError('the field section refers to a dynamic table, and this endpoint allows none');
  const fields: HeaderField[] = [];
  let at = base.next;
  while (at < bytes.length) {
    const b = bytes[at];
    if (b & 0x80) {
      // Indexed field line: T (static) must be set.
      if (!(b & 0x40)) throw new QpackError('the field section refers to a dynamic table, and this endpoint allows none');
      const { value, next } = readInteger(bytes, at, 6);
      fields.push(staticEntry(value));
      at = next;
    } else if (b & 0x40) {
      // Literal with a name reference: 01NT, 4-bit index.
      if (!(b & 0x10)) throw new QpackError('the field section refers to a dynamic table, and this endpoint allows none');
      const name = readInteger(bytes, at, 4);
      const value = readString(bytes, name.next, 7);
      fields.push([staticEntry(name.value)[0], value.value]);
      at = value.next;
    } else if (b & 0x20) {
      // Literal with a literal name: 001NH, 3-bit length.
      const name = readString(bytes, at, 3);
      const value = readString(bytes, name.next, 7);
      fields.push([name.value, value.value]);
      at = value.next;
    } else {
      throw new QpackError('the field section refers to a dynamic table, and this endpoint allows none');
    }
  }
  return fields;
}

/** Encodes fields as static-table references where an entry matches exactly, literals otherwise. */
export function encodeFieldSection(fields: readonly HeaderField[]): Uint8Array {
  const out: number[] = [0, 0];
  const utf8 = new TextEncoder();
  for (const [name, value] of fields) {
    const exact = STATIC.findIndex(([n, v]) => n === name && v === value);
    if (exact >= 0) {
      out.push(...writeInteger(exact, 6, 0xc0));
      continue;
    }
    const named = STATIC.findIndex(([n]) => n === name);
    const valueBytes = utf8.encode(value);
    if (named >= 0) out.push(...writeInteger(named, 4, 0x50));
    else {
      const nameBytes = utf8.encode(name);
      out.push(...writeInteger(nameBytes.length, 3, 0x20), ...nameBytes);
    }
    out.push(...writeInteger(valueBytes.length, 7, 0), ...valueBytes);
  }
  return Uint8Array.from(out);
}
