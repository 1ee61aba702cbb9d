// The tail of a split model: hidden states → final RMS norm → output head → logits.
import { EngineError } from './errors.ts';
import { kernelsOf, type ComputeOptions, type ModelFile } from './model.ts';
import { loadTailWeights } from './weights.ts';

export interface Tail {
  /**
   * [nTokens][nVocab] logits for [nTokens][nEmbd] hidden states, in a fresh array the caller keeps,
   * or in `into` where given with that length (a tail may ignore it: use the array returned).
   */
  logits(hidden: Float32Array, nTokens: number, into?: Float32Array): Promise<Float32Array>;
}

export async function openTail(model: ModelFile, opts?: ComputeOptions): Promise<Tail> {
  if (opts?.stages) return opts.stages.openTail(model);
  const k = kernelsOf(opts);
  const { config: c } = model;
  const w = await loadTailWeights(model.store, c, k.weightHome);
  return {
    async logits(hidden, nTokens, into) {
      if (hidden.length !== nTokens * c.nEmbd) {
        throw new EngineError('engine_bad_input', `tail got ${hidden.length} values for ${nTokens} tokens of width ${c.nEmbd}`);
      }
      const xn = new Float32Array(hidden.length);
      k.rmsnorm(xn, hidden, w.outputNorm, nTokens, c.nEmbd, c.normEps);
      const out = into?.length === nTokens * c.nVocab ? into : new Float32Array(nTokens * c.nVocab);
      k.matmul(out, xn, w.output, nTokens);
      return out;
    },
  };
}
