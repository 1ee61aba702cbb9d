// Step 1 of the recipe (tools/train/MODEL_CARD.md): the KJV text, a 4096-token vocabulary trained on
// it, and the text tokenized by src/tokenizer (which tokenizes as llama.cpp does), written to
// .cache/train/ for train.py: train.u16 and val.u16 (every 50th verse held out), each verse as
// <s> … </s> so the models learn where a verse ends.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '../../src/tokenizer/index.ts';
import { trainDir } from './paths.ts';
import { readKjv } from './corpus.ts';
import { spmReaderMetadata, trainSpmVocab } from './spm-vocab.ts';

export const VOCAB_SIZE = 4096;
const HOLD_OUT_EVERY = 50;

function main(): void {
  const t0 = performance.now();
  const corpus = readKjv();
  const vocab = trainSpmVocab(corpus.verses, VOCAB_SIZE);
  const tokenizer = Tokenizer.fromMetadata(spmReaderMetadata(vocab));
  const train: number[] = [];
  const val: number[] = [];
  corpus.verses.forEach((verse, i) => {
    const ids = tokenizer.tokenize(verse);
    ids.push(tokenizer.special.eos);
    (i % HOLD_OUT_EVERY === 0 ? val : train).push(...ids);
  });
  mkdirSync(trainDir, { recursive: true });
  writeFileSync(join(trainDir, 'vocab.json'), JSON.stringify({ tokens: vocab.tokens, scores: [...vocab.scores], types: [...vocab.types] }));
  writeFileSync(join(trainDir, 'train.u16'), Uint16Array.from(train));
  writeFileSync(join(trainDir, 'val.u16'), Uint16Array.from(val));
  const info = {
    corpusSha256: corpus.sha256,
    verses: corpus.verses.length,
    chars: corpus.verses.reduce((n, v) => n + v.length, 0),
    vocab: vocab.tokens.length,
    trainTokens: train.length,
    valTokens: val.length,
    seconds: (performance.now() - t0) / 1000,
  };
  writeFileSync(join(trainDir, 'prepare.json'), JSON.stringify(info, null, 2));
  console.log(JSON.stringify(info));
}

main();
