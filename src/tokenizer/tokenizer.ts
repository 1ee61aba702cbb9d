// Text <-> token ids for a model, from its GGUF metadata, with llama.cpp's semantics: special tokens
// split out of the raw text first (tokenizer_st_partition), then SentencePiece or pre-tokenized BPE
// on the pieces between them, BOS/EOS as the vocabulary says; and token -> bytes for decoding.
import type { GgufValue } from '../gguf/reader.ts';
import { bpeWord } from './bpe.ts';
import { TokenizerError } from './errors.ts';
import { preTokenize } from './pre-tokenize.ts';
import { spmTokenize } from './spm.ts';
import { unicodeToByte, utf8Bytes, codepoints } from './unicode.ts';
import { ATTR, loadVocab, type SpecialIds, type Vocab, type VocabType } from './vocab.ts';

export interface TokenizeOptions {
  /** Add BOS/EOS as the model's add_bos_token/add_eos_token say (llama.cpp's add_special). Default true. */
  addSpecial?: boolean;
  /** Match control tokens such as <|im_start|> written in the text (llama.cpp's parse_special). Default false. */
  parseSpecial?: boolean;
}

export interface DetokenizeOptions {
  /** Render control and unknown tokens as their text (llama.cpp's unparse_special). Default false. */
  special?: boolean;
  /** Drop a leading BOS and trailing EOS the model adds by itself. Default false. */
  removeSpecial?: boolean;
}

type Fragment = { token: number } | { start: number; end: number };

const SPACE_ESCAPE = '\u2581';
const CACHE_LIMIT = 1 << 16;

const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d); // C isspace in the "C" locale

export class Tokenizer {
  readonly vocab: Vocab;
  private readonly pieces: (Uint8Array | undefined)[];
  private readonly wordCache = new Map<string, number[]>();
  private readonly decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

  constructor(vocab: Vocab) {
    this.vocab = vocab;
    this.pieces = new Array(vocab.texts.length);
  }

  /** Loads from `parseGgufHeader(bytes).metadata`; throws TokenizerError for unsupported tokenizers. */
  static fromMetadata(metadata: ReadonlyMap<string, GgufValue>): Tokenizer {
    return new Tokenizer(loadVocab(metadata));
  }

  get type(): VocabType {
    return this.vocab.type;
  }
  get size(): number {
    return this.vocab.texts.length;
  }
  get special(): Readonly<SpecialIds> {
    return this.vocab.special;
  }
  get addBos(): boolean {
    return this.vocab.addBos;
  }
  get addEos(): boolean {
    return this.vocab.addEos;
  }
  /** Tokens that end generation (EOS, EOT, <|im_end|>, …), as llama.cpp's special_eog_ids. */
  get eog(): ReadonlySet<number> {
    return this.vocab.eog;
  }
  isEog(id: number): boolean {
    return this.vocab.eog.has(id);
  }
  /** The token's text as stored in the vocabulary (e.g. "▁Hello", "Ġworld", "<0x0A>"). */
  tokenText(id: number): string {
    this.check(id);
    return this.vocab.texts[id];
  }
  /** The id of a token with exactly this text, if any. */
  tokenId(text: string): number | undefined {
    return this.vocab.textToId.get(text);
  }

  tokenize(text: string, options: TokenizeOptions = {}): number[] {
    const addSpecial = options.addSpecial ?? true;
    const v = this.vocab;
    const out: number[] = [];
    const fragments = text.length ? this.partition(text, options.parseSpecial ?? false) : [];
    if (addSpecial && v.addBos) out.push(this.required(v.special.bos, 'BOS'));
    if (v.type === 'spm') {
      let prevSpecial = true; // a space is prefixed to text at the start and after a special token
      for (const f of fragments) {
        if ('token' in f) {
          out.push(f.token);
          prevSpecial = true;
          continue;
        }
        let piece = text.slice(f.start, f.end);
        if (v.addSpacePrefix && prevSpecial) piece = ` ${piece}`;
        spmTokenize(v, piece.replaceAll(' ', SPACE_ESCAPE), out);
        prevSpecial = false;
      }
    } else {
      for (const f of fragments) {
        if ('token' in f) {
          out.push(f.token);
          continue;
        }
        for (const word of preTokenize(text.slice(f.start, f.end), v.preKind!)) this.bpeCached(word, out);
      }
    }
    if (addSpecial && v.addEos) out.push(this.required(v.special.eos, 'EOS'));
    return out;
  }

  /** The bytes a token stands for (UTF-8, possibly a partial character). Empty for hidden specials. */
  tokenToPiece(id: number, special = false): Uint8Array {
    this.check(id);
    if (!special && this.vocab.attrs[id] & (ATTR.UNKNOWN | ATTR.CONTROL)) return new Uint8Array(0);
    return (this.pieces[id] ??= this.renderPiece(id));
  }

  /** Ids -> bytes, as llama_detokenize (including its clean-up of spaces for some BPE models). */
  detokenizeBytes(ids: readonly number[], options: DetokenizeOptions = {}): Uint8Array {
    const v = this.vocab;
    let start = 0,
      end = ids.length;
    let removeSpace = v.addSpacePrefix;
    if (options.removeSpecial && v.addBos && end > 0 && ids[0] === v.special.bos) {
      removeSpace = false;
      start++;
    }
    if (options.removeSpecial && v.addEos && end > start && ids[end - 1] === v.special.eos) end--;
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = start; i < end; i++) {
      let piece = this.tokenToPiece(ids[i], options.special ?? false);
      if (removeSpace && piece.length && piece[0] === 0x20) piece = piece.subarray(1);
      removeSpace = false;
      parts.push(piece);
      total += piece.length;
    }
    let bytes: Uint8Array = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      bytes.set(p, o);
      o += p.length;
    }
    if (v.cleanSpaces) bytes = cleanSpaces(bytes);
    return bytes;
  }

  detokenize(ids: readonly number[], options: DetokenizeOptions = {}): string {
    return this.decoder.decode(this.detokenizeBytes(ids, options));
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocab.texts.length) {
      throw new TokenizerError('tokenizer_bad_input', `token id ${id} is outside the vocabulary (0..${this.vocab.texts.length - 1})`);
    }
  }

  private required(id: number, what: string): number {
    if (id < 0)
      throw new TokenizerError(
        'tokenizer_bad_metadata',
        `the model asks for a ${what} token but defines none; pass addSpecial: false or fix the model's metadata`,
      );
    return id;
  }

  private bpeCached(word: string, out: number[]): void {
    let ids = this.wordCache.get(word);
    if (!ids) {
      ids = [];
      bpeWord(this.vocab, word, ids);
      if (this.wordCache.size >= CACHE_LIMIT) this.wordCache.clear();
      this.wordCache.set(word, ids);
    }
    for (const id of ids) out.push(id);
  }

  /**
   * tokenizer_st_partition: split out every special token (longest first), honouring their
   * lstrip/rstrip attributes. Control and unknown tokens only when parseSpecial; user-defined
   * tokens always, as llama.cpp (and Hugging Face tokenizers) do.
   */
  private partition(text: string, parseSpecial: boolean): Fragment[] {
    const v = this.vocab;
    let fragments: Fragment[] = [{ start: 0, end: text.length }];
    for (const id of v.specialCache) {
      const attr = v.attrs[id];
      if (!parseSpecial && attr & (ATTR.CONTROL | ATTR.UNKNOWN)) continue;
      const needle = v.texts[id];
      if (!text.includes(needle)) continue;
      const next: Fragment[] = [];
      for (const f of fragments) {
        if ('token' in f) {
          next.push(f);
          continue;
        }
        let from = f.start;
        for (;;) {
          const match = text.indexOf(needle, from);
          if (match < 0 || match + needle.length > f.end) {
            if (f.end > from) next.push({ start: from, end: f.end });
            break;
          }
          let leftEnd = match;
          if (attr & ATTR.LSTRIP) while (leftEnd > from && isSpace(text.charCodeAt(leftEnd - 1))) leftEnd--;
          if (leftEnd > from) next.push({ start: from, end: leftEnd });
          next.push({ token: id });
          from = match + needle.length;
          if (attr & ATTR.RSTRIP) while (from < f.end && isSpace(text.charCodeAt(from))) from++;
        }
      }
      fragments = next;
    }
    return fragments;
  }

  /** token_to_piece with special = true, as llama.cpp caches it. */
  private renderPiece(id: number): Uint8Array {
    const v = this.vocab;
    const attr = v.attrs[id];
    const text = v.texts[id];
    if (attr & (ATTR.UNKNOWN | ATTR.CONTROL | ATTR.USER_DEFINED)) return utf8Bytes(text);
    if (attr & ATTR.NORMAL) {
      return v.type === 'spm' ? utf8Bytes(text.replaceAll(SPACE_ESCAPE, ' ')) : decodeByteLevel(text);
    }
    if (attr & ATTR.BYTE) return Uint8Array.of(parseInt(text.substr(3, 2), 16) || 0);
    return new Uint8Array(0); // unused and undefined tokens render as nothing
  }
}

/** llama_decode_text: byte-level BPE text back to bytes; characters outside the alphabet are flagged. */
function decodeByteLevel(text: string): Uint8Array {
  const out: number[] = [];
  for (const cp of codepoints(text)) {
    const b = unicodeToByte(cp);
    if (b !== undefined) {
      out.push(b);
      continue;
    }
    const hex = [...utf8Bytes(String.fromCodePoint(cp))].map((x) => x.toString(16).padStart(2, '0')).join('');
    out.push(...utf8Bytes(`[UNK_BYTE_0x${hex}${text}]`));
  }
  return Uint8Array.from(out);
}

/** llama.cpp's clean_up_tokenization_spaces passes: " ?" " !" " ." " ," " ' " " 's" " 'm" " 're" " 've". */
function cleanSpaces(text: Uint8Array): Uint8Array {
  const t = Array.from(text);
  const SP = 0x20,
    AP = 0x27;
  // first pass: drop the space before ? ! . ,
  let total = t.length ? 1 : 0;
  for (let i = 1, n = t.length; i < n; i++) {
    const x = t[i];
    if (t[i - 1] === SP && (x === 0x3f || x === 0x21 || x === 0x2e || x === 0x2c)) total--;
    t[total++] = x;
  }
  // second pass: " ' " -> "'"
  const n2 = total;
  total = n2 ? 1 : 0;
  for (let i = 1; i < n2; i++) {
    const x = t[i];
    if (x === AP && i + 1 < n2 && t[i - 1] === SP && t[i + 1] === SP) {
      total--;
      t[++i] = 0;
    }
    t[total++] = x;
  }
  // third pass: " 's" " 'm" " 're" " 've" lose their space
  const n3 = total;
  total = n3 ? 1 : 0;
  for (let i = 1; i < n3; i++) {
    const x = t[i];
    if (t[i - 1] === SP && x === AP && i + 1 < n3) {
      const x1 = t[i + 1];
      if (x1 === 0x73 || x1 === 0x6d) total--;
      else if (i + 2 < n3 && ((x1 === 0x72 && t[i + 2] === 0x65) || (x1 === 0x76 && t[i + 2] === 0x65))) total--;
    }
    t[total++] = x;
  }
  return Uint8Array.from(t.slice(0, total));
}
