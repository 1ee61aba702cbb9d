// How a provider turns speculative decoding on (engine/speculative.ts): which drafter, made fresh for
// each generation, and the draft length to start from. The same mode serves any session that runs the
// model's tail here: the local engine's, or the mesh head's.
import type { Drafter } from '../engine/drafter.ts';
import { EngineError } from '../engine/errors.ts';
import { LookupFirstDrafter } from '../engine/lookup-first-drafter.ts';
import { checkDraftVocabulary, ModelDrafter } from '../engine/model-drafter.ts';
import { NgramDrafter } from '../engine/ngram-drafter.ts';
import type { SamplingOptions } from '../engine/sampler.ts';
import type { InferenceSession } from '../engine/session.ts';

/** A loaded draft model: an Engine, or anything that hands out sessions of one. */
export interface DraftEngine {
  readonly config: { readonly nVocab: number };
  createSession(): InferenceSession;
}

export interface SpeculativeConfig {
  /**
   * 'ngram': prompt lookup, no model; 'model': a small model sharing the target's vocabulary, asked
   * where prompt lookup finds nothing (lookup-first-drafter.ts).
   */
  drafter: 'ngram' | 'model';
  /** For 'model'. */
  draftModel?: DraftEngine;
  /** Draft length to start from (default 4); it adapts within 1..16 to the acceptance rate. */
  k?: number;
}

export interface SpeculativeMode {
  readonly kind: 'ngram' | 'model';
  readonly k?: number;
  /** A drafter for one generation; freed when the generation ends. */
  createDrafter(sampling: SamplingOptions): Drafter;
}

/** Checks `config` against the target (`model` names it in errors) and returns its mode. */
export function speculativeMode(config: SpeculativeConfig, targetVocab: number, model: string): SpeculativeMode {
  if (config.k !== undefined && !(Number.isInteger(config.k) && config.k >= 1 && config.k <= 16)) {
    throw new EngineError('engine_bad_input', `speculative k must be an integer in 1..16, got ${config.k}`);
  }
  if (config.drafter === 'ngram') return { kind: 'ngram', k: config.k, createDrafter: () => new NgramDrafter() };
  const draft = config.draftModel;
  if (config.drafter !== 'model' || !draft) {
    throw new EngineError(
      'engine_bad_input',
      `speculative drafter must be 'ngram', or 'model' with a draftModel; got ${String(config.drafter)}${draft ? '' : ' and no draft model'}`,
    );
  }
  checkDraftVocabulary(targetVocab, draft.config.nVocab, `for ${model}`);
  return { kind: 'model', k: config.k, createDrafter: (sampling) => new LookupFirstDrafter(new ModelDrafter(draft.createSession(), sampling)) };
}
