// BPE pre-tokenizers: split text into words before merging, exactly as llama.cpp's
// unicode_regex_split does. llama.cpp does not run the tokenizer.json regexes literally: it has
// hand-written splitters for the common ones (ported here line by line, quirks included) and runs the
// rest with std::regex over a "collapsed" text where each non-ASCII code point becomes one byte
// standing for its category. We implement only the pre-tokenizers whose every step we reproduce.
import {
  CPT_ACCENT_MARK,
  CPT_CATEGORIES,
  CPT_LETTER,
  CPT_NUMBER,
  CPT_PUNCTUATION,
  CPT_SYMBOL,
  CPT_WHITESPACE,
  byteToUnicode,
  codepoints,
  cptFlags,
  utf8Bytes,
  fromCodepoints,
} from './unicode.ts';

/** A split step: refines segment lengths (in code points) into smaller ones. */
type SplitStep = (cps: Uint32Array, offsets: number[], collapsed: () => string) => number[];

/** The pre-tokenizer regex families llama.cpp implements and we reproduce. */
export type PreTokenizerKind = 'gpt2' | 'llama3' | 'qwen2' | 'qwen35' | 'starcoder' | 'falcon' | 'default';

const OUT_OF_RANGE = 0xffffffff;
const APOS = 0x27,
  SPACE = 0x20,
  CR = 0x0d,
  LF = 0x0a;

function lowerAscii(c: number): number {
  // unicode_tolower maps only ASCII capitals onto s/t/m/d/r/e/v/l (checked against llama.cpp's table)
  return c >= 0x41 && c <= 0x5a ? c + 32 : c;
}

/** Contractions 's 't 'm 'd 're 've 'll at pos, case-(in)sensitive; returns their length or 0. */
function contraction(cps: Uint32Array, pos: number, end: number, fold: boolean): number {
  if (cps[pos] !== APOS || pos + 1 >= end) return 0;
  const f = fold ? lowerAscii : (c: number) => c;
  const a = f(cps[pos + 1]);
  if (a === 0x73 || a === 0x74 || a === 0x6d || a === 0x64) return 2;
  if (pos + 2 < end) {
    const b = f(cps[pos + 2]);
    if ((a === 0x72 && b === 0x65) || (a === 0x76 && b === 0x65) || (a === 0x6c && b === 0x6c)) return 3;
  }
  return 0;
}

/** unicode_regex_split_custom_gpt2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
function splitGpt2(cps: Uint32Array, offsets: number[]): number[] {
  const out: number[] = [];
  let start = 0;
  for (const offset of offsets) {
    const ini = start,
      end = start + offset;
    start = end;
    const cpt = (p: number) => (p >= ini && p < end ? cps[p] : OUT_OF_RANGE);
    const flags = (p: number) => (p >= ini && p < end ? cptFlags(cps[p]) : 0);
    let prevEnd = ini;
    const add = (e: number) => {
      const len = e - prevEnd;
      if (len > 0) out.push(len);
      prevEnd = e;
      return len;
    };
    for (let pos = ini; pos < end; ) {
      const c = cpt(pos);
      const k = contraction(cps, pos, end, false);
      if (k) {
        pos += add(pos + k);
        continue;
      }
      let f2 = c === SPACE ? flags(pos + 1) : flags(pos);
      if (f2 & CPT_LETTER) {
        if (c === SPACE) pos++;
        while (f2 & CPT_LETTER) f2 = flags(++pos);
        add(pos);
        continue;
      }
      if (f2 & CPT_NUMBER) {
        if (c === SPACE) pos++;
        while (f2 & CPT_NUMBER) f2 = flags(++pos);
        add(pos);
        continue;
      }
      const other = CPT_WHITESPACE | CPT_LETTER | CPT_NUMBER;
      if (!(f2 & other) && f2) {
        if (c === SPACE) pos++;
        while (!(f2 & other) && f2) f2 = flags(++pos);
        add(pos);
        continue;
      }
      let nws = 0;
      while (flags(pos + nws) & CPT_WHITESPACE) nws++;
      if (nws > 1 && cpt(pos + nws) !== OUT_OF_RANGE) {
        pos += nws - 1;
        add(pos);
        continue;
      }
      if (nws > 0) {
        pos += nws;
        add(pos);
        continue;
      }
      add(++pos);
    }
  }
  return out;
}

/**
 * unicode_regex_split_custom_llama3 / _qwen2 / _qwen35, one body: they differ only in what counts as
 * a letter (qwen35 adds \p{M}) and how many digits make a number word (llama3 3, qwen 1).
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 */
function splitLlama3Like(cps: Uint32Array, offsets: number[], letter: number, maxDigits: number): number[] {
  const out: number[] = [];
  let start = 0;
  for (const offset of offsets) {
    const ini = start,
      end = start + offset;
    start = end;
    const cpt = (p: number) => (p >= ini && p < end ? cps[p] : OUT_OF_RANGE);
    const flags = (p: number) => (p >= ini && p < end ? cptFlags(cps[p]) : 0);
    let prevEnd = ini;
    const add = (e: number) => {
      const len = e - prevEnd;
      if (len > 0) out.push(len);
      prevEnd = e;
      return len;
    };
    for (let pos = ini; pos < end; ) {
      const c = cpt(pos);
      const f = flags(pos);
      const k = contraction(cps, pos, end, true);
      if (k) {
        pos += add(pos + k);
        continue;
      }
      // [^\r\n\p{L}\p{N}]?\p{L}+
      if (!(c === CR || c === LF || f & CPT_NUMBER)) {
        if (f & letter || flags(pos + 1) & letter) {
          pos++;
          while (flags(pos) & letter) pos++;
          add(pos);
          continue;
        }
      }
      // \p{N}{1,maxDigits}
      if (f & CPT_NUMBER) {
        let first = pos;
        while (flags(pos) & CPT_NUMBER) {
          if (++pos - first >= maxDigits) {
            add(pos);
            first = pos;
          }
        }
        add(pos);
        continue;
      }
      // <space>?[^\s\p{L}\p{N}]+[\r\n]*
      const other = CPT_WHITESPACE | letter | CPT_NUMBER;
      let f2 = c === SPACE ? flags(pos + 1) : f;
      if (!(f2 & other) && f) {
        if (c === SPACE) pos++;
        while (!(f2 & other) && f2) f2 = flags(++pos);
        let c2 = cpt(pos);
        while (c2 === CR || c2 === LF) c2 = cpt(++pos);
        add(pos);
        continue;
      }
      let nws = 0;
      let lastEndRN = 0;
      while (flags(pos + nws) & CPT_WHITESPACE) {
        const c2 = cpt(pos + nws);
        if (c2 === CR || c2 === LF) lastEndRN = pos + nws + 1;
        nws++;
      }
      if (lastEndRN > 0) {
        pos = lastEndRN;
        add(pos);
        continue;
      } // \s*[\r\n]+
      if (nws > 1 && cpt(pos + nws) !== OUT_OF_RANGE) {
        pos += nws - 1;
        add(pos);
        continue;
      } // \s+(?!\S)
      if (nws > 0) {
        pos += nws;
        add(pos);
        continue;
      } // \s+
      add(++pos);
    }
  }
  return out;
}

/** unicode_regex_split's collapsed text: ASCII kept, other code points replaced by a category byte. */
function collapse(cps: Uint32Array): string {
  const parts: string[] = new Array(cps.length);
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i];
    if (cp < 128) {
      parts[i] = String.fromCharCode(cp);
      continue;
    }
    const fl = cptFlags(cp);
    if (fl & CPT_WHITESPACE) {
      parts[i] = '\x0b';
      continue;
    }
    switch (fl & CPT_CATEGORIES) {
      case CPT_NUMBER:
        parts[i] = '\xd1';
        break;
      case CPT_LETTER:
        parts[i] = '\xd2';
        break;
      case CPT_PUNCTUATION:
        parts[i] = '\xd3';
        break;
      case CPT_ACCENT_MARK:
        parts[i] = '\xd4';
        break;
      case CPT_SYMBOL:
        parts[i] = '\xd5';
        break;
      default:
        parts[i] = '\xd0';
    }
  }
  return parts.join('');
}

/**
 * unicode_regex_split_stl over the collapsed text: matches and the gaps between them become words.
 * The regexes below are llama.cpp's, with \p{X} already rewritten as its collapse does
 * (e.g. \p{N} -> [\xD1 0-9]); ECMAScript semantics match std::regex's ECMAScript grammar here.
 */
function regexStep(re: RegExp): SplitStep {
  return (_cps, offsets, collapsed) => {
    const text = collapsed();
    const out: number[] = [];
    let start = 0;
    for (const offset of offsets) {
      const seg = text.slice(start, start + offset);
      const g = new RegExp(re.source, 'g');
      let last = 0;
      for (let m = g.exec(seg); m; m = g.exec(seg)) {
        if (m.index > last) out.push(m.index - last);
        out.push(m[0].length);
        last = m.index + m[0].length;
        if (m[0].length === 0) g.lastIndex++; // never happens with these regexes; guards a hang
      }
      if (last < offset) out.push(offset - last);
      start += offset;
    }
    return out;
  };
}

// ASCII members of each category in llama.cpp's collapse (k_ucat_map).
const P_ASCII = '!-#%-*,-/:-;?-@\\[-\\]_\\{\\}';
const N_RE = /[\xd10-9]/;
const N_PLUS_RE = /[\xd10-9]+/;
const THREE_DIGITS_RE = /[0-9][0-9][0-9]/;
const DEFAULT_PUNCT_RE = new RegExp(`[\\xd3${P_ASCII}\\$\\+<=>\\^~\\|]+`);
const FALCON_PUNCT_RE = new RegExp(`[\\xd3${P_ASCII}\\$\\+<=>\\^~\\|\`]+`);

const gpt2: SplitStep = (cps, o) => splitGpt2(cps, o);
const STEPS: Record<PreTokenizerKind, SplitStep[]> = {
  gpt2: [gpt2],
  llama3: [(cps, o) => splitLlama3Like(cps, o, CPT_LETTER, 3)],
  qwen2: [(cps, o) => splitLlama3Like(cps, o, CPT_LETTER, 1)],
  qwen35: [(cps, o) => splitLlama3Like(cps, o, CPT_LETTER | CPT_ACCENT_MARK, 1)],
  starcoder: [regexStep(N_RE), gpt2],
  falcon: [regexStep(FALCON_PUNCT_RE), gpt2, regexStep(THREE_DIGITS_RE)],
  default: [regexStep(DEFAULT_PUNCT_RE), gpt2, regexStep(N_PLUS_RE), regexStep(THREE_DIGITS_RE)],
};

/**
 * Splits text into pre-tokenizer words. With byteEncode (GPT-2 byte-level BPE) each word comes back
 * as its UTF-8 bytes spelled in the printable byte alphabet, ready for merges.
 */
export function preTokenize(text: string, kind: PreTokenizerKind, byteEncode = true): string[] {
  const cps = codepoints(text);
  let collapsedText: string | undefined;
  const collapsed = () => (collapsedText ??= collapse(cps));
  let offsets = cps.length ? [cps.length] : [];
  for (const step of STEPS[kind]) offsets = step(cps, offsets, collapsed);
  const words: string[] = new Array(offsets.length);
  let start = 0;
  for (let i = 0; i < offsets.length; i++) {
    const word = fromCodepoints(cps, start, start + offsets[i]);
    start += offsets[i];
    words[i] = byteEncode ? byteEncodeWord(word) : word;
  }
  return words;
}

function byteEncodeWord(word: string): string {
  let ascii = true;
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) {
      ascii = false;
      break;
    }
  }
  if (ascii) return word; // printable ASCII maps to itself
  let s = '';
  for (const b of utf8Bytes(word)) s += byteToUnicode(b);
  return s;
}
