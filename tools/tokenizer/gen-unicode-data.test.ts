// src/tokenizer/unicode-data.ts must be what the generator makes from the bundled llama.cpp source.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { generateUnicodeData, outputPath } from './gen-unicode-data.ts';

it('the checked-in unicode data matches llama.cpp src/unicode-data.cpp', () => {
  expect(readFileSync(outputPath, 'utf8') === generateUnicodeData(), 'run: node tools/tokenizer/gen-unicode-data.ts').toBe(true);
});
