// Our tokenizer against llama.cpp itself (node-llama-cpp, built from the same source), on seeded
// random texts full of edge cases, and on every token's attributes, end-of-generation flag and the
// BOS/EOS rules. Covers vocabularies that ship without test vectors (aquila, baichuan, gpt-neox).
import { getLlama, type Llama, type LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vocabPath } from '../../tools/llama-source.ts';
import { mulberry32 } from '../testing/mulberry32.ts';
import { randomText } from './testing/random-text.ts';
import { readVectors, hasVectors, vocabMetadata } from '../../tools/tokenizer/test-vectors.ts';
import { Tokenizer } from './tokenizer.ts';
import { ATTR } from './vocab.ts';

const VOCABS = [
  'llama-spm',
  'llama-bpe',
  'qwen2',
  'phi-3',
  'gpt-2',
  'mpt',
  'starcoder',
  'refact',
  'command-r',
  'falcon',
  'qwen35',
  'aquila',
  'baichuan',
  'gpt-neox',
];
const TEXTS = 300;

/** The native model object: common_tokenize(add_special=false) and llama_vocab_* queries. */
interface Native {
  tokenize(text: string, parseSpecial: boolean): Uint32Array;
  getTokenAttributes(id: number): number;
  isEogToken(id: number): boolean;
  shouldPrependBosToken(): boolean;
  shouldAppendEosToken(): boolean;
}

let llama: Llama;
beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: 'never', logLevel: 'disabled' as never });
});
afterAll(async () => {
  await llama?.dispose();
});

describe.each(VOCABS)('%s matches llama.cpp', (name) => {
  let tok: Tokenizer;
  let model: LlamaModel;
  let native: Native;
  beforeAll(async () => {
    tok = Tokenizer.fromMetadata(vocabMetadata(name));
    model = await llama.loadModel({ modelPath: vocabPath(name), vocabOnly: true });
    native = (model as unknown as { _model: Native })._model;
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it('on random texts, with and without special-token parsing, and back', () => {
    const specials = tok.vocab.specialCache.slice(0, 64).map((id) => tok.vocab.texts[id]);
    const rand = mulberry32(0x5eed + name.length);
    for (let i = 0; i < TEXTS; i++) {
      const text = randomText(rand, 24, specials);
      for (const parseSpecial of [false, true]) {
        const want = Array.from(native.tokenize(text, parseSpecial));
        expect(tok.tokenize(text, { addSpecial: false, parseSpecial }), JSON.stringify(text)).toEqual(want);
        const withBos = tok.special.bos >= 0 ? [tok.special.bos, ...want] : want;
        for (const special of [false, true]) {
          expect(tok.detokenize(want, { special }), JSON.stringify(text)).toBe(model.detokenize(want as never, special));
          expect(tok.detokenize(withBos, { special }), JSON.stringify(text)).toBe(model.detokenize(withBos as never, special));
        }
      }
    }
  });

  it('on the test vectors, round trip included', () => {
    if (!hasVectors(name)) return;
    for (const v of readVectors(name)) {
      expect(tok.detokenize(v.ids, { special: true })).toBe(model.detokenize(v.ids as never, true));
    }
  });

  it('in token attributes, end-of-generation tokens and BOS/EOS rules', () => {
    const attrs = new Uint32Array(tok.size);
    const eog: number[] = [];
    for (let id = 0; id < tok.size; id++) {
      attrs[id] = native.getTokenAttributes(id);
      if (native.isEogToken(id)) eog.push(id);
    }
    const mismatch = [...attrs.keys()].filter((id) => attrs[id] !== tok.vocab.attrs[id]);
    expect(mismatch.slice(0, 5).map((id) => [id, tok.vocab.texts[id], attrs[id], tok.vocab.attrs[id]])).toEqual([]);
    expect([...tok.eog].sort((a, b) => a - b)).toEqual(eog);
    expect(tok.addBos).toBe(native.shouldPrependBosToken());
    expect(tok.addEos).toBe(native.shouldAppendEosToken());
    // node-llama-cpp reports BOS/EOS only when they are control (or undefined) tokens
    const control = (id: number) => {
      if (id < 0) return -1;
      const attr = tok.vocab.attrs[id];
      return attr & ATTR.CONTROL || attr === ATTR.UNDEFINED ? id : -1;
    };
    expect(control(tok.special.bos)).toBe(model.tokens.bos ?? -1);
    expect(control(tok.special.eos)).toBe(model.tokens.eos ?? -1);
  });
});
