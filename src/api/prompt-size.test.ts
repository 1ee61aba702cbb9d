// A prompt longer than the context could hold even in the model's longest tokens is refused by its
// size, before it is tokenized; one that may fit is tokenized and checked as before.
import { describe, expect, it } from 'vitest';
import type { ApiContext } from './context.ts';
import { prepare } from './serve.ts';

const ctx = {
  provider: {
    listModels: async () => [{ id: 'm', ownedBy: 'mesh', contextLength: 100 }],
    // Longest token: 8 characters, so at most 800 characters fit in the context.
    modelText: async () => ({ tokenizer: { vocab: { texts: ['a', 'bb', 'abcdefgh', '<0x41>'] } }, template: {} }),
  },
  noModelHint: '',
} as unknown as ApiContext;

describe('prompt size', () => {
  it('refuses a prompt over what the context can hold without tokenizing it', async () => {
    let tokenized = 0;
    const promptOf = () => {
      tokenized++;
      return [1, 2, 3];
    };
    await expect(prepare(ctx, 'm', promptOf, undefined, 801)).rejects.toMatchObject({ code: 'context_length_exceeded' });
    expect(tokenized).toBe(0);
    const p = await prepare(ctx, 'm', promptOf, undefined, 800);
    expect(tokenized).toBe(1);
    expect(p.maxTokens).toBe(97);
  });
});
