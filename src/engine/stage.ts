// A stage runs layers [first, end) of a model. Each inference session gets its own KV cache, so one
// peer can serve many conversations; hidden states enter and leave as Float32Array, which is what
// travels between peers when a model is split across the mesh.
import { blockForward } from './layer.ts';
import { EngineError } from './errors.ts';
import { KvCache, type KvPrecision } from './kv-cache.ts';
import { kernelsOf, type ComputeOptions, type ModelFile } from './model.ts';
import { Scratch } from './scratch.ts';
import { loadLayerWeights, type LayerWeights } from './weights.ts';

export interface SessionOptions {
  /** The most positions the session may hold; the model's training context by default. */
  readonly maxPositions?: number;
  readonly kvPrecision?: KvPrecision;
}

export interface StageSession {
  /** Positions cached so far: the next batch starts at this position. */
  readonly length: number;
  /**
   * Runs a batch of nTokens hidden states ([nTokens][nEmbd]) at positions length..length+nTokens-1
   * through the stage's layers and returns the new hidden states. Prefill is one big batch, decode
   * a batch of one, speculative verification a small batch.
   */
  extend(hidden: Float32Array, nTokens: number): Promise<Float32Array>;
  /** Drops every position from `length` on (rollback). */
  truncate(length: number): void;
  /** Releases the cache; the session cannot be used afterwards. */
  free(): void;
}

export interface Stage {
  readonly first: number;
  readonly end: number;
  createSession(opts?: SessionOptions): StageSession;
}

export async function openStage(model: ModelFile, first: number, end: number, opts?: ComputeOptions): Promise<Stage> {
  const c = model.config;
  if (!(Number.isInteger(first) && Number.isInteger(end) && 0 <= first && first < end && end <= c.nLayer)) {
    throw new EngineError(
      'engine_bad_range',
      `layer range ${first}..${end} is not within the model's ${c.nLayer} layers (ranges are half-open, e.g. 0..${c.nLayer})`,
    );
  }
  if (opts?.stages) return opts.stages.openStage(model, first, end);
  const k = kernelsOf(opts);
  const layers: LayerWeights[] = [];
  for (let il = first; il < end; il++) layers.push(await loadLayerWeights(model.store, c, il, k.weightHome));
  const scratch = new Scratch(); // shared by the stage's sessions: a forward pass runs to its end before the next starts

  return {
    first,
    end,
    createSession(sopts = {}) {
      const maxPositions = sopts.maxPositions ?? c.nCtxTrain;
      const cache = new KvCache(layers.length, c.nHeadKv * c.headDim, maxPositions, sopts.kvPrecision ?? 'f32');
      return {
        get length() {
          return cache.length;
        },
        async extend(hidden, nTokens) {
          if (!(Number.isInteger(nTokens) && nTokens > 0) || hidden.length !== nTokens * c.nEmbd) {
            throw new EngineError('engine_bad_input', `stage ${first}..${end} got ${hidden.length} values for ${nTokens} tokens of width ${c.nEmbd}`);
          }
          cache.reserve(nTokens);
          const x = Float32Array.from(hidden);
          const pos0 = cache.length;
          for (let i = 0; i < layers.length; i++) blockForward(k, c, layers[i], cache, { x, nTokens, pos0, cacheLayer: i, scratch });
          cache.commit(nTokens);
          return x;
        },
        truncate(length) {
          cache.truncate(length);
        },
        free() {
          cache.free();
        },
      };
    },
  };
}
