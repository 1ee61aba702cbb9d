// Reads a vocabulary from GGUF metadata the way llama.cpp's llama_vocab::impl::load does: token
// texts, scores and attributes, special token ids, the add-BOS/EOS rules and their per-type
// defaults, end-of-generation tokens, and the attribute fix-ups llama.cpp applies by token text.
// Anything we do not reproduce exactly is refused here, before a single token is produced.
import type { GgufValue } from '../gguf/reader.ts';
import { TokenizerError } from './errors.ts';
import type { PreTokenizerKind } from './pre-tokenize.ts';
import { utf8Bytes } from './unicode.ts';

/** Token attributes, llama.h's llama_token_attr bits. */
export const ATTR = {
  UNDEFINED: 0,
  UNKNOWN: 1 << 0,
  UNUSED: 1 << 1,
  NORMAL: 1 << 2,
  CONTROL: 1 << 3,
  USER_DEFINED: 1 << 4,
  BYTE: 1 << 5,
  NORMALIZED: 1 << 6,
  LSTRIP: 1 << 7,
  RSTRIP: 1 << 8,
  SINGLE_WORD: 1 << 9,
} as const;

// GGUF token_type values (llama_token_type) -> attributes.
const TYPE_TO_ATTR = [ATTR.UNDEFINED, ATTR.NORMAL, ATTR.UNKNOWN, ATTR.CONTROL, ATTR.USER_DEFINED, ATTR.UNUSED, ATTR.BYTE];

export type VocabType = 'spm' | 'bpe';

export interface SpecialIds {
  bos: number;
  eos: number;
  eot: number;
  eom: number;
  unk: number;
  sep: number;
  pad: number;
  mask: number;
  fimPre: number;
  fimSuf: number;
  fimMid: number;
  fimPad: number;
  fimRep: number;
  fimSep: number;
}

export interface Vocab {
  readonly type: VocabType;
  /** tokenizer.ggml.model and .pre as stored. */
  readonly model: string;
  readonly pre: string;
  readonly preKind: PreTokenizerKind | undefined;
  readonly texts: string[];
  readonly scores: Float32Array;
  readonly attrs: Uint16Array;
  readonly textToId: Map<string, number>;
  /** BPE merges "left right" -> rank. */
  readonly ranks: Map<string, number>;
  readonly special: SpecialIds;
  readonly eog: Set<number>;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly addSpacePrefix: boolean;
  readonly ignoreMerges: boolean;
  readonly cleanSpaces: boolean;
  /** Control, user-defined and unknown tokens, longest text first: matched in raw text before BPE/SPM. */
  readonly specialCache: number[];
}

const NULL = -1;

interface PreInfo {
  kind: PreTokenizerKind;
  ignoreMerges?: boolean;
  addBos?: boolean;
  cleanSpaces?: boolean;
  bosNull?: boolean;
}

/**
 * tokenizer.ggml.pre values we implement, with the flags llama.cpp sets for each. Names llama.cpp
 * maps to the same regexes and flags share an entry; embedding-model variants with extra token
 * attribute rules (jina-*, modern-bert, roberta) are left out on purpose.
 */
const PRE: Record<string, PreInfo> = {
  '': { kind: 'default' },
  default: { kind: 'default' },
  ...Object.fromEntries(
    ['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'falcon-h1', 'pixtral', 'midm-2.0', 'lfm2', 'jina-v5-nano'].map((n) => [
      n,
      { kind: 'llama3', ignoreMerges: true, addBos: true },
    ]),
  ),
  dbrx: { kind: 'llama3' },
  'smaug-bpe': { kind: 'llama3' },
  falcon: { kind: 'falcon' },
  ...Object.fromEntries(['gpt-2', 'phi-2', 'mpt', 'olmo', 'jais', 'exaone4', 'gigachat', 'a.x-4.0', 'mellum'].map((n) => [n, { kind: 'gpt2' }])),
  trillion: { kind: 'gpt2', cleanSpaces: false },
  'granite-docling': { kind: 'gpt2', cleanSpaces: false },
  ...Object.fromEntries(['starcoder', 'refact', 'codeshell', 'exaone', 'minerva-7b', 'mellum2'].map((n) => [n, { kind: 'starcoder' }])),
  'command-r': { kind: 'starcoder', cleanSpaces: false },
  smollm: { kind: 'starcoder', cleanSpaces: false },
  ...Object.fromEntries(['qwen2', 'deepseek-r1-qwen', 'kormo', 'f2llmv2', 'hunyuan', 'solar-open'].map((n) => [n, { kind: 'qwen2', cleanSpaces: false }])),
  megrez: { kind: 'qwen2' },
  stablelm2: { kind: 'qwen2' },
  qwen35: { kind: 'qwen35', cleanSpaces: false },
};

export const SUPPORTED_MODELS = ['llama (SentencePiece)', 'gpt2 (byte-level BPE)'];
export const SUPPORTED_PRE = Object.keys(PRE).filter((k) => k !== '');

type Meta = ReadonlyMap<string, GgufValue>;

function bad(message: string): TokenizerError {
  return new TokenizerError('tokenizer_bad_metadata', `${message}; the model file's tokenizer metadata is broken: re-convert it with a current llama.cpp`);
}

function optString(meta: Meta, key: string): string | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw bad(`${key} is not a string`);
  return v;
}

function optBool(meta: Meta, key: string): boolean | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw bad(`${key} is not a boolean`);
  return v;
}

function optId(meta: Meta, key: string): number | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad(`${key} is not a token id`);
  return v;
}

function stringArray(meta: Meta, key: string): string[] | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || (v.length > 0 && typeof v[0] !== 'string')) throw bad(`${key} is not an array of strings`);
  return v as string[];
}

/** Which tokenizer the metadata asks for, or a TokenizerError saying why we cannot provide it. */
function resolveType(model: string, pre: string): { type: VocabType; info?: PreInfo } {
  if (model === 'llama') return { type: 'spm' }; // SPM ignores tokenizer.ggml.pre, as llama.cpp does
  if (model === 'gpt2') {
    const info = PRE[pre];
    if (!info) {
      throw new TokenizerError(
        'tokenizer_unsupported_pre',
        `BPE pre-tokenizer '${pre}' is not supported by this engine, so the model's text cannot be tokenized exactly as llama.cpp would; supported pre-tokenizers: ${SUPPORTED_PRE.join(', ')}`,
      );
    }
    return { type: 'bpe', info };
  }
  const names: Record<string, string> = {
    bert: 'WordPiece (bert)',
    t5: 'Unigram (t5)',
    rwkv: 'RWKV',
    plamo2: 'PLaMo-2',
    gemma4: 'Gemma 4 BPE',
    hybriddna: 'hybrid DNA',
    whitespace: 'whitespace BPE',
    none: 'no vocabulary',
    no_vocab: 'no vocabulary',
  };
  const what = names[model] ?? `'${model}'`;
  throw new TokenizerError(
    'tokenizer_unsupported_model',
    `tokenizer type ${what} is not supported by this engine; supported: ${SUPPORTED_MODELS.join(', ')}. Use a model with a llama (SentencePiece) or gpt2 (BPE) tokenizer`,
  );
}

const EOT_TEXTS = [
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '<|end_of_text|>',
  '<EOT>',
  '_<EOT>',
  '[EOT]',
  '<｜end▁of▁sentence｜>',
  '<end_of_utterance>',
];
const EOM_TEXTS = ['<|eom_id|>'];
const FIM_TEXTS: [keyof SpecialIds, string[]][] = [
  ['fimPre', ['<|fim_prefix|>', '<fim-prefix>', '<fim_prefix>', '<｜fim▁begin｜>', '<PRE>', '▁<PRE>', '<|code_prefix|>', '<|prefix|>']],
  ['fimSuf', ['<|fim_suffix|>', '<fim-suffix>', '<fim_suffix>', '<｜fim▁hole｜>', '<SUF>', '▁<SUF>', '<|code_suffix|>', '<|suffix|>']],
  ['fimMid', ['<|fim_middle|>', '<fim-middle>', '<fim_middle>', '<｜fim▁end｜>', '<MID>', '▁<MID>', '<|code_middle|>', '<|middle|>']],
  ['fimPad', ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]']],
  ['fimRep', ['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>']],
  ['fimSep', ['<|file_sep|>']],
];
const EOG_TEXTS = [
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<|return|>',
  '<|call|>',
  '<|flush|>',
  '<|calls|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '</s>',
  '<|eom_id|>',
  '<EOT>',
  '_<EOT>',
  '[EOT]',
  '[EOS]',
  '<|end_of_text|>',
  '<end_of_utterance>',
  '<eos>',
  '<turn|>',
  '<|tool_response>',
  '<｜end▁of▁sentence｜>',
  '[e~[',
];

const SPECIAL_KEYS: [keyof SpecialIds, string][] = [
  ['bos', 'bos_token_id'],
  ['eos', 'eos_token_id'],
  ['eot', 'eot_token_id'],
  ['eom', 'eom_token_id'],
  ['unk', 'unknown_token_id'],
  ['sep', 'seperator_token_id'],
  ['pad', 'padding_token_id'],
  ['mask', 'mask_token_id'],
  ['fimPre', 'fim_pre_token_id'],
  ['fimSuf', 'fim_suf_token_id'],
  ['fimMid', 'fim_mid_token_id'],
  ['fimPad', 'fim_pad_token_id'],
  ['fimRep', 'fim_rep_token_id'],
  ['fimSep', 'fim_sep_token_id'],
  ['fimPre', 'prefix_token_id'],
  ['fimSuf', 'suffix_token_id'],
  ['fimMid', 'middle_token_id'], // deprecated names
];

/** Builds the vocabulary from GGUF metadata; throws TokenizerError for anything unsupported. */
export function loadVocab(meta: Meta): Vocab {
  const model = optString(meta, 'tokenizer.ggml.model');
  if (model === undefined) throw bad('tokenizer.ggml.model is missing');
  const pre = optString(meta, 'tokenizer.ggml.pre') ?? '';
  const { type, info } = resolveType(model, pre);

  const texts = stringArray(meta, 'tokenizer.ggml.tokens');
  if (!texts || texts.length === 0) throw bad('tokenizer.ggml.tokens is missing');
  const n = texts.length;

  const rawScores = meta.get('tokenizer.ggml.scores');
  const scores = new Float32Array(n);
  if (rawScores !== undefined) {
    if (!(rawScores instanceof Float32Array || rawScores instanceof Int32Array)) throw bad('tokenizer.ggml.scores is not a float32 or int32 array');
    if (rawScores.length < n) throw bad(`tokenizer.ggml.scores has ${rawScores.length} entries for ${n} tokens`);
    scores.set(rawScores.subarray(0, n));
  }
  const rawTypes = meta.get('tokenizer.ggml.token_type');
  const attrs = new Uint16Array(n).fill(ATTR.NORMAL);
  if (rawTypes !== undefined) {
    if (!(rawTypes instanceof Int32Array)) throw bad('tokenizer.ggml.token_type is not an int32 array');
    if (rawTypes.length < n) throw bad(`tokenizer.ggml.token_type has ${rawTypes.length} entries for ${n} tokens`);
    for (let i = 0; i < n; i++) attrs[i] = TYPE_TO_ATTR[rawTypes[i]] ?? ATTR.UNDEFINED;
  }

  const textToId = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    if (texts[i] === '') texts[i] = `[EMPTY_${i}]`; // as llama.cpp, so every id keeps a distinct text
    textToId.set(texts[i], i); // a duplicate text maps to its last id, as llama.cpp's map assignment
  }

  const ranks = new Map<string, number>();
  if (type === 'bpe') {
    const merges = stringArray(meta, 'tokenizer.ggml.merges');
    if (!merges) throw bad('tokenizer.ggml.merges is missing for a BPE tokenizer');
    for (let i = 0; i < merges.length; i++) {
      const m = merges[i];
      if (m.indexOf(' ', 1) < 0) continue; // llama.cpp stores it as ("", "") which no lookup can hit
      if (!ranks.has(m)) ranks.set(m, i); // emplace: the first rank of a repeated pair wins
    }
  }

  // Per-type defaults, then the pre-tokenizer's flags, then the metadata's explicit keys.
  const special: SpecialIds = {
    bos: type === 'spm' ? 1 : 11,
    eos: type === 'spm' ? 2 : 11,
    eot: NULL,
    eom: NULL,
    unk: type === 'spm' ? 0 : NULL,
    sep: NULL,
    pad: NULL,
    mask: NULL,
    fimPre: NULL,
    fimSuf: NULL,
    fimMid: NULL,
    fimPad: NULL,
    fimRep: NULL,
    fimSep: NULL,
  };
  let addBos = type === 'spm';
  let addEos = false;
  let addSpacePrefix = type === 'spm';
  let cleanSpaces = type === 'bpe';
  if (info) {
    if (info.addBos !== undefined) addBos = info.addBos;
    if (info.cleanSpaces !== undefined) cleanSpaces = info.cleanSpaces;
    if (info.bosNull) special.bos = NULL;
  }
  addSpacePrefix = optBool(meta, 'tokenizer.ggml.add_space_prefix') ?? addSpacePrefix;

  for (const [field, key] of SPECIAL_KEYS) {
    if (special[field] >= n) special[field] = NULL; // a default outside the vocabulary is disabled
    const id = optId(meta, `tokenizer.ggml.${key}`);
    if (id !== undefined && id < n) special[field] = id; // an out-of-range id keeps the default
  }
  addBos = optBool(meta, 'tokenizer.ggml.add_bos_token') ?? addBos;
  addEos = optBool(meta, 'tokenizer.ggml.add_eos_token') ?? addEos;

  const eog = detectSpecialTexts(texts, textToId, attrs, special);

  const specialCache: number[] = [];
  for (let i = 0; i < n; i++) if (attrs[i] & (ATTR.CONTROL | ATTR.USER_DEFINED | ATTR.UNKNOWN)) specialCache.push(i);
  const byteLen = (id: number) => utf8Bytes(texts[id]).length;
  const lens = new Map(specialCache.map((id) => [id, byteLen(id)]));
  specialCache.sort((a, b) => lens.get(b)! - lens.get(a)! || a - b);

  applyModelNameAttrs(meta, textToId, attrs, specialCache);

  return {
    type,
    model,
    pre,
    preKind: info?.kind,
    texts,
    scores,
    attrs,
    textToId,
    ranks,
    special,
    eog,
    addBos,
    addEos,
    addSpacePrefix,
    ignoreMerges: info?.ignoreMerges ?? false,
    cleanSpaces,
    specialCache,
  };
}

/**
 * llama.cpp finds EOT/EOM/FIM and end-of-generation tokens by their text and marks them CONTROL.
 * It walks an unordered_map, so when several texts match one role its pick depends on hash order;
 * we take the lowest id (it only matters for models that have several candidates for one role).
 */
function detectSpecialTexts(texts: string[], textToId: Map<string, number>, attrs: Uint16Array, special: SpecialIds): Set<number> {
  const markControl = (id: number) => {
    attrs[id] |= ATTR.CONTROL;
  };
  const firstOf = (candidates: string[]) => {
    let best = NULL;
    for (const t of candidates) {
      const id = textToId.get(t);
      if (id !== undefined && (best === NULL || id < best)) best = id;
    }
    return best;
  };
  const roles: [keyof SpecialIds, string[]][] = [['eot', EOT_TEXTS], ['eom', EOM_TEXTS], ...FIM_TEXTS];
  for (const [field, candidates] of roles) {
    if (special[field] !== NULL) continue;
    const id = firstOf(candidates);
    if (id !== NULL) {
      special[field] = id;
      markControl(id);
    }
  }
  for (const [text, id] of textToId) {
    if (attrs[id] & ATTR.CONTROL && !(attrs[id] & ATTR.UNUSED) && text.includes('unused')) attrs[id] |= ATTR.UNUSED;
  }
  const eog = new Set<number>();
  for (const id of [special.fimPad, special.fimRep, special.fimSep]) if (id !== NULL) eog.add(id);
  for (const t of EOG_TEXTS) {
    const id = textToId.get(t);
    if (id !== undefined) {
      eog.add(id);
      markControl(id);
    }
  }
  for (const t of ['<|channel|>', '<|message|>', '<|start|>', '<|constrain|>']) {
    // gpt-oss: always rendered
    const id = textToId.get(t);
    if (id !== undefined) attrs[id] = ATTR.USER_DEFINED;
  }
  for (const id of [special.eos, special.eot, special.eom]) if (id !== NULL) eog.add(id);
  const eogWith = (t: string) => {
    for (const id of eog) if (texts[id] === t) return id;
    return NULL;
  };
  const has = (t: string) => eogWith(t) !== NULL;
  const hasCall = has('<|call|>') || has('<|calls|>');
  // o200k_harmony / solar-open: <|end|> ends a message, not the generation
  if (has('<|end|>') && ((has('<|return|>') && hasCall) || (hasCall && has('<|flush|>')))) {
    const id = eogWith('<|end|>');
    eog.delete(id);
    attrs[id] = ATTR.USER_DEFINED;
  }
  if (has('<|tool_response>') && has('</s>')) {
    // gemma4 / paddleocr
    const id = eogWith('</s>');
    eog.delete(id);
    attrs[id] = ATTR.NORMAL;
  }
  return eog;
}

/** llama.cpp's per-model attribute rules keyed on general.name (phi-3's right-stripping specials). */
function applyModelNameAttrs(meta: Meta, textToId: Map<string, number>, attrs: Uint16Array, specialCache: number[]): void {
  const name = (optString(meta, 'general.name') ?? '').toLowerCase();
  const set = (text: string, attr: number, on: boolean) => {
    const id = textToId.get(text);
    if (id !== undefined) attrs[id] = on ? attrs[id] | attr : attrs[id] & ~attr;
  };
  if (name.includes('phi-3') || name.includes('phi3')) {
    for (const id of specialCache) attrs[id] |= ATTR.RSTRIP;
    set('</s>', ATTR.RSTRIP, true);
    for (const t of ['<unk>', '<s>', '<|endoftext|>']) set(t, ATTR.RSTRIP, false);
  } else if (name.includes('modern-bert')) {
    set('[MASK]', ATTR.LSTRIP, true);
  }
}
