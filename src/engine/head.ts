// The head of a split model: token ids → hidden states (the embedding lookup).
import { EngineError } from './errors.ts';
import { kernelsOf, type ComputeOptions, type ModelFile } from './model.ts';
import { loadHeadWeights } from './weights.ts';

export interface Head {
  /** [nTokens][nEmbd] f32 hidden states for the ids. */
  embed(ids: ArrayLike<number>): Promise<Float32Array>;
}

export async function openHead(model: ModelFile, opts?: ComputeOptions): Promise<Head> {
  const k = kernelsOf(opts);
  const { config: c } = model;
  const w = await loadHeadWeights(model.store, c, k.weightHome);
  return {
    async embed(ids) {
      const tokens = Int32Array.from(ids);
      for (const id of tokens) {
        if (!(id >= 0 && id < c.nVocab)) {
          throw new EngineError(
            'engine_bad_input',
            `token id ${id} is outside this model's vocabulary of ${c.nVocab}; tokenize with the model's own tokenizer`,
          );
        }
      }
      const out = new Float32Array(tokens.length * c.nEmbd);
      k.embed(out, w.tokenEmbd, tokens);
      return out;
    },
  };
}
