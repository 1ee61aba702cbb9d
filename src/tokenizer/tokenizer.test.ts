// The tokenizer against llama.cpp's own test vectors (models/ggml-vocab-*.gguf.inp/.out, produced
// with Hugging Face tokenizers and checked by llama.cpp's tests/test-tokenizer-0 with
// add_special=false, parse_special=false), plus the rules around them: BOS/EOS, special tokens,
// decoding, refusal of tokenizers we do not implement.
import { describe, expect, it } from 'vitest';
import { TokenizerError } from './errors.ts';
import { readVectors, vocabMetadata } from '../../tools/tokenizer/test-vectors.ts';
import { Tokenizer } from './tokenizer.ts';

const cache = new Map<string, Tokenizer>();
function load(name: string): Tokenizer {
  let t = cache.get(name);
  if (!t) {
    t = Tokenizer.fromMetadata(vocabMetadata(name));
    cache.set(name, t);
  }
  return t;
}

// The five the engine promises, then the other shipped vocabularies whose pre-tokenizers we implement.
const WITH_VECTORS = ['llama-spm', 'llama-bpe', 'qwen2', 'phi-3', 'gpt-2', 'mpt', 'starcoder', 'refact', 'command-r', 'falcon', 'qwen35'];

describe.each(WITH_VECTORS)('%s test vectors', (name) => {
  it('tokenizes every input exactly as llama.cpp', () => {
    const tok = load(name);
    const vectors = readVectors(name);
    expect(vectors.length).toBeGreaterThan(40);
    for (const v of vectors) expect(tok.tokenize(v.text, { addSpecial: false }), JSON.stringify(v.text)).toEqual(v.ids);
  });

  it('detokenizes back to the input where no clean-up rule applies', () => {
    const tok = load(name);
    // llama.cpp's clean_up_tokenization_spaces (on for some BPE models) rewrites " ." " ," " 's" …
    const cleaned = /(?: [?!.,']|^\s*$)/;
    for (const v of readVectors(name)) {
      if (tok.vocab.cleanSpaces && cleaned.test(v.text)) continue;
      expect(tok.detokenize(v.ids), JSON.stringify(v.text)).toBe(v.text);
    }
  });
});

describe('refuses what it does not implement', () => {
  const refused: [string, string][] = [
    ['bert-bge', 'tokenizer_unsupported_model'], // WordPiece
    ['nomic-bert-moe', 'tokenizer_unsupported_model'], // Unigram (t5)
    ['gemma-4', 'tokenizer_unsupported_model'], // gemma4 BPE with SentencePiece-style spaces
    ['deepseek-coder', 'tokenizer_unsupported_pre'],
    ['deepseek-llm', 'tokenizer_unsupported_pre'],
  ];
  it.each(refused)('%s with %s', (name, code) => {
    let error: unknown;
    try {
      Tokenizer.fromMetadata(vocabMetadata(name));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TokenizerError);
    expect((error as TokenizerError).code).toBe(code);
    expect((error as TokenizerError).message).toMatch(/not supported.*supported/);
  });

  it('an unknown pre-tokenizer name on an otherwise good BPE vocabulary', () => {
    const meta = new Map(vocabMetadata('gpt-2'));
    meta.set('tokenizer.ggml.pre', 'some-future-model');
    expect(() => Tokenizer.fromMetadata(meta)).toThrow(/'some-future-model' is not supported/);
  });

  it('metadata without a vocabulary', () => {
    const meta = new Map(vocabMetadata('gpt-2'));
    meta.delete('tokenizer.ggml.tokens');
    expect(() => Tokenizer.fromMetadata(meta)).toThrow(TokenizerError);
  });
});

describe('BOS and EOS', () => {
  it('follow add_bos_token, and the per-type defaults when it is missing', () => {
    const spm = load('llama-spm'); // add_bos_token = true
    expect(spm.tokenize('Hello')).toEqual([1, ...spm.tokenize('Hello', { addSpecial: false })]);
    const llama3 = load('llama-bpe'); // no add_bos_token key: the llama3 pre-tokenizer turns BOS on
    expect(llama3.tokenize('Hello')[0]).toBe(128000);
    const qwen = load('qwen2'); // no key, qwen2 pre: no BOS
    expect(qwen.tokenize('Hello')).toEqual(qwen.tokenize('Hello', { addSpecial: false }));
    const meta = new Map(vocabMetadata('qwen2'));
    meta.set('tokenizer.ggml.add_bos_token', true);
    meta.set('tokenizer.ggml.add_eos_token', true);
    const forced = Tokenizer.fromMetadata(meta);
    expect(forced.tokenize('Hi')).toEqual([151643, ...qwen.tokenize('Hi', { addSpecial: false }), 151643]);
    expect(spm.tokenize('')).toEqual([1]);
    expect(spm.tokenize('', { addSpecial: false })).toEqual([]);
  });

  it('knows the end-of-generation tokens', () => {
    const qwen = load('qwen2');
    expect(qwen.isEog(qwen.tokenId('<|im_end|>')!)).toBe(true);
    expect(qwen.isEog(qwen.tokenId('<|endoftext|>')!)).toBe(true);
    expect(qwen.isEog(qwen.tokenId('<|im_start|>')!)).toBe(false);
    const llama3 = load('llama-bpe');
    expect(llama3.isEog(llama3.tokenId('<|eot_id|>')!)).toBe(true);
  });
});

describe('special tokens', () => {
  it('are matched in the text only with parseSpecial', () => {
    const qwen = load('qwen2');
    const start = qwen.tokenId('<|im_start|>')!,
      end = qwen.tokenId('<|im_end|>')!;
    const ids = qwen.tokenize('<|im_start|>user\nHi<|im_end|>', { parseSpecial: true });
    expect(ids[0]).toBe(start);
    expect(ids[ids.length - 1]).toBe(end);
    expect(ids.slice(1, -1)).toEqual(qwen.tokenize('user\nHi'));
    expect(qwen.tokenize('<|im_start|>')).not.toContain(start);
  });

  it('prefix a space to SentencePiece text after them, and strip around them for phi-3', () => {
    const spm = load('llama-spm');
    expect(spm.tokenize('<s>Hello', { addSpecial: false, parseSpecial: true })).toEqual([1, ...spm.tokenize('Hello', { addSpecial: false })]);
    const phi = load('phi-3');
    const user = phi.tokenId('<|user|>')!;
    // llama.cpp right-strips phi-3's special tokens: the newline after <|user|> is dropped
    expect(phi.tokenize('<|user|>\nHi', { addSpecial: false, parseSpecial: true })).toEqual(
      phi.tokenize('<|user|>Hi', { addSpecial: false, parseSpecial: true }),
    );
    expect(phi.tokenize('<|user|>Hi', { addSpecial: false, parseSpecial: true })[0]).toBe(user);
  });

  it('render as text only when asked', () => {
    const qwen = load('qwen2');
    const ids = qwen.tokenize('<|im_start|>Hi', { parseSpecial: true });
    expect(qwen.detokenize(ids)).toBe('Hi');
    expect(qwen.detokenize(ids, { special: true })).toBe('<|im_start|>Hi');
  });
});

describe('decoding', () => {
  it('gives byte-fallback and byte-level tokens as raw bytes, whole characters once joined', () => {
    const spm = load('llama-spm');
    const ids = spm.tokenize('🦙', { addSpecial: false });
    expect(ids.map((id) => spm.tokenText(id))).toEqual(['▁', '<0xF0>', '<0x9F>', '<0xA6>', '<0x99>']);
    expect([...spm.tokenToPiece(ids[1])]).toEqual([0xf0]);
    expect(spm.detokenize(ids)).toBe('🦙');
    const gpt2 = load('gpt-2');
    const g = gpt2.tokenize(' 🦙');
    expect(new TextDecoder().decode(Uint8Array.from(g.flatMap((id) => [...gpt2.tokenToPiece(id)])))).toBe(' 🦙');
  });

  it('strips the SentencePiece prefix space from the first token only, as llama.cpp', () => {
    const spm = load('llama-spm');
    const ids = spm.tokenize('Hello world');
    expect(spm.detokenize(ids.slice(1))).toBe('Hello world');
    // a leading BOS takes the strip (llama_detokenize strips only the first piece), hidden or removed
    expect(spm.detokenize(ids)).toBe(' Hello world');
    expect(spm.detokenize(ids, { removeSpecial: true })).toBe(' Hello world');
    expect(spm.detokenize(ids, { special: true })).toBe('<s> Hello world');
  });

  it('rejects ids outside the vocabulary', () => {
    const gpt2 = load('gpt-2');
    expect(() => gpt2.detokenize([50257])).toThrow(TokenizerError);
    expect(() => gpt2.tokenToPiece(-1)).toThrow(/outside the vocabulary/);
  });
});

describe('speed', () => {
  it('loads the 151k-token qwen2 vocabulary and tokenizes a few KB quickly', () => {
    const meta = vocabMetadata('qwen2');
    const t0 = performance.now();
    const qwen = Tokenizer.fromMetadata(meta);
    const loadMs = performance.now() - t0;
    const text = readVectors('qwen2')
      .map((v) => v.text)
      .join('\n')
      .repeat(2); // ~4 KB of mixed scripts
    const t1 = performance.now();
    const ids = qwen.tokenize(text);
    const tokMs = performance.now() - t1;
    expect(ids.length).toBeGreaterThan(500);
    // generous bounds for a shared 2-core machine; typical: ~300 ms load, ~10 ms tokenize
    expect(loadMs).toBeLessThan(2000);
    expect(tokMs).toBeLessThan(250);
  });
});
