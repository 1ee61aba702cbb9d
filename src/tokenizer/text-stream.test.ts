import { expect, it } from 'vitest';
import { vocabMetadata } from '../../tools/tokenizer/test-vectors.ts';
import { TokenTextStream } from './text-stream.ts';
import { Tokenizer } from './tokenizer.ts';

it('releases a character split over byte tokens only when it is whole', () => {
  const tok = Tokenizer.fromMetadata(vocabMetadata('llama-spm'));
  const ids = tok.tokenize('a🦙b', { addSpecial: false }); // ▁a, then four <0x..> byte tokens, then b
  const stream = new TokenTextStream(tok);
  const out = ids.map((id) => stream.push(id));
  expect(out.join('') + stream.flush()).toBe(' a🦙b');
  expect(out.filter((s) => s === '').length).toBe(3); // the first three bytes of the emoji give nothing yet
  const cut = new TokenTextStream(tok);
  cut.push(ids[1]);
  expect(cut.flush()).toBe('\ufffd');
});

it('hides control tokens unless asked', () => {
  const tok = Tokenizer.fromMetadata(vocabMetadata('qwen2'));
  const end = tok.tokenId('<|im_end|>')!;
  expect(new TokenTextStream(tok).push(end)).toBe('');
  expect(new TokenTextStream(tok, { special: true }).push(end)).toBe('<|im_end|>');
});
