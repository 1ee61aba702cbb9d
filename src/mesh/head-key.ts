// A mesh head's public key as a link names it: an `npub1…` (NIP-19, bech32) or 64 hex characters,
// read into the lower-case hex Nostr key that announcements carry. A tiny bech32 decoder of its own,
// so the app's main chunk reads links without loading nostr-tools' NIP-19 module.
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATORS = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: readonly number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GENERATORS[i];
  }
  return chk;
}

function hrpExpand(hrp: string): number[] {
  const codes = [...hrp].map((c) => c.charCodeAt(0));
  return [...codes.map((c) => c >>> 5), 0, ...codes.map((c) => c & 31)];
}

/** The 32 bytes of an `npub1…` string, or undefined when it is not one (bad character, checksum, length). */
function decodeNpub(text: string): Uint8Array | undefined {
  const s = text.toLowerCase();
  if (s !== text && text.toUpperCase() !== text) return undefined;
  if (!s.startsWith('npub1') || s.length !== 63) return undefined;
  const data: number[] = [];
  for (const c of s.slice(5)) {
    const v = CHARSET.indexOf(c);
    if (v < 0) return undefined;
    data.push(v);
  }
  if (polymod([...hrpExpand('npub'), ...data]) !== 1) return undefined;
  // 5-bit groups (less the 6 checksum ones) to bytes; the padding bits must be zero.
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const v of data.slice(0, -6)) {
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >>> bits) & 0xff);
    }
  }
  if (bits >= 5 || (acc & ((1 << bits) - 1)) !== 0 || out.length !== 32) return undefined;
  return new Uint8Array(out);
}

/** A head key from a link parameter (npub or hex) as 64 lower-case hex characters; undefined when it is neither. */
export function parseHeadKey(text: string | null | undefined): string | undefined {
  const t = (text ?? '').trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return t.toLowerCase();
  const bytes = decodeNpub(t);
  return bytes ? [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('') : undefined;
}
