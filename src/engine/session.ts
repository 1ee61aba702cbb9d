// An inference session over a whole model run as head → stages → tail: the unit generation,
// teacher-forced scoring and (later) speculative verification work on. Extending appends tokens and
// returns their logits; truncating rolls the KV caches of every stage back in O(1).
import { EngineError } from './errors.ts';
import type { KvPrecision } from './kv-cache.ts';
import type { Pipeline } from './pipeline.ts';
import type { StageSession } from './stage.ts';

/** Which rows of logits extend() computes: the output head is the costliest matmul of a small model. */
export type LogitsWanted = 'all' | 'last' | 'none';

export interface ExtendOptions {
  readonly logits?: LogitsWanted;
  /** Checked between prefill batches. */
  readonly signal?: AbortSignal;
  /**
   * Where a 'last' row of logits may be written (a decode loop handing back the row it is done with,
   * so a step allocates no vocabulary-wide array): use the array returned, which is `into` or fresh.
   */
  readonly into?: Float32Array;
}

export interface InferenceSession {
  /** Tokens held, in order (the KV caches hold exactly these). */
  readonly tokens: readonly number[];
  readonly length: number;
  readonly maxPositions: number;
  /**
   * The largest batch whose rows' logits equal one-token extend()s' bit for bit (kernels may sum in
   * another order for bigger batches). Speculative verification runs in batches of at most this
   * many, so greedy output equals plain decoding. Absent: any batch.
   */
  readonly exactBatch?: number;
  /**
   * Runs `tokens` at the next positions. Returns [rows][nVocab] logits: one row per token ('all',
   * default), the last token's only ('last'), or none. A batch that would not fit the context is
   * refused before anything runs, so the session is unchanged.
   */
  extend(tokens: readonly number[], opts?: ExtendOptions): Promise<Float32Array>;
  /** Keeps the first `length` tokens and forgets the rest (rollback). */
  truncate(length: number): void;
  free(): void;
}

export interface SessionConfig {
  readonly maxPositions: number;
  readonly kvPrecision?: KvPrecision;
  /** Prefill runs in batches of at most this many tokens, bounding activation memory. */
  readonly batchSize?: number;
  /** See InferenceSession.exactBatch. */
  readonly exactBatch?: number;
}

export function createInferenceSession(p: Pipeline, nEmbd: number, nVocab: number, cfg: SessionConfig): InferenceSession {
  const stages: StageSession[] = p.stages.map((s) => s.createSession({ maxPositions: cfg.maxPositions, kvPrecision: cfg.kvPrecision }));
  const held: number[] = [];
  const batchSize = cfg.batchSize ?? 256;
  let freed = false;
  const alive = () => {
    if (freed) throw new EngineError('engine_session_freed', 'this inference session was freed; create a new one');
  };
  return {
    get tokens() {
      return held;
    },
    get length() {
      return held.length;
    },
    maxPositions: cfg.maxPositions,
    exactBatch: cfg.exactBatch,
    async extend(tokens, opts = {}) {
      alive();
      const want = opts.logits ?? 'all';
      if (tokens.length === 0) return new Float32Array(0);
      if (held.length + tokens.length > cfg.maxPositions) {
        throw new EngineError(
          'engine_context_overflow',
          `the context is full: ${held.length} tokens held, ${tokens.length} more requested, the limit is ${cfg.maxPositions}; shorten the prompt, lower max tokens, or start a new conversation`,
        );
      }
      const whole = tokens.length <= batchSize; // one batch: the tail's fresh array is the answer, no copy
      let out: Float32Array = new Float32Array(whole ? 0 : (want === 'all' ? tokens.length : want === 'last' ? 1 : 0) * nVocab);
      for (let start = 0; start < tokens.length; start += batchSize) {
        opts.signal?.throwIfAborted();
        const batch = tokens.slice(start, start + batchSize);
        let hidden = await p.head.embed(batch);
        // Stage to stage as plain Float32Array hidden states: exactly what peers send each other.
        for (const s of stages) hidden = await s.extend(hidden, batch.length);
        held.push(...batch);
        if (want === 'all') {
          const rows = await p.tail.logits(hidden, batch.length);
          if (whole) out = rows;
          else out.set(rows, start * nVocab);
        } else if (want === 'last' && start + batch.length === tokens.length) {
          const row = await p.tail.logits(hidden.subarray((batch.length - 1) * nEmbd), 1, whole ? opts.into : undefined);
          if (whole) out = row;
          else out.set(row);
        }
      }
      return out;
    },
    truncate(length) {
      alive();
      if (!Number.isInteger(length) || length < 0 || length > held.length) {
        throw new EngineError('engine_bad_input', `cannot truncate a session of ${held.length} tokens to ${length}`);
      }
      for (const s of stages) s.truncate(length);
      held.length = length;
    },
    free() {
      if (freed) return;
      freed = true;
      for (const s of stages) s.free();
    },
  };
}
