// The keys and values of one inference session for the layers of one stage. Positions are appended
// by a batch at a time and can be truncated (rollback after rejected speculative tokens) in O(1).
import { roundFp16 } from '../gguf/quant/half.ts';
import { EngineError } from './errors.ts';

/**
 * 'f32' keeps keys and values exact; 'f16' rounds them as they are stored, which is what llama.cpp
 * does with its default F16 cache, so parity tests can compare like with like.
 */
export type KvPrecision = 'f32' | 'f16';

export interface LayerKv {
  /** [position][nHeadKv][headDim]; only the first `length` positions are meaningful. */
  k: Float32Array;
  v: Float32Array;
}

export class KvCache {
  readonly rowSize: number;
  readonly maxPositions: number;
  readonly precision: KvPrecision;
  readonly layers: LayerKv[];
  private used = 0;
  private freed = false;

  constructor(nLayers: number, rowSize: number, maxPositions: number, precision: KvPrecision = 'f32', initialPositions = 64) {
    this.rowSize = rowSize;
    this.maxPositions = maxPositions;
    this.precision = precision;
    const cap = Math.min(initialPositions, maxPositions);
    this.layers = Array.from({ length: nLayers }, () => ({ k: new Float32Array(cap * rowSize), v: new Float32Array(cap * rowSize) }));
  }

  /** Positions held. */
  get length(): number {
    return this.used;
  }

  get capacity(): number {
    return this.layers.length ? this.layers[0].k.length / this.rowSize : this.maxPositions;
  }

  /** Makes room for `n` more positions, growing by doubling; throws when the context is full. */
  reserve(n: number): void {
    this.check();
    const need = this.used + n;
    if (need > this.maxPositions) {
      throw new EngineError(
        'engine_context_overflow',
        `the context is full: ${this.used} positions held, ${n} more requested, the limit is ${this.maxPositions}; start a new session or shorten the conversation`,
      );
    }
    if (need <= this.capacity) return;
    const cap = Math.min(this.maxPositions, Math.max(need, this.capacity * 2));
    for (const l of this.layers) {
      const k = new Float32Array(cap * this.rowSize),
        v = new Float32Array(cap * this.rowSize);
      k.set(l.k.subarray(0, this.used * this.rowSize));
      v.set(l.v.subarray(0, this.used * this.rowSize));
      l.k = k;
      l.v = v;
    }
  }

  /** Stores rows for positions pos..pos+n-1 of one layer (pos must be the current length). */
  write(layer: number, pos: number, k: Float32Array, v: Float32Array, n: number): void {
    const l = this.layers[layer];
    const o = pos * this.rowSize,
      len = n * this.rowSize;
    l.k.set(k.subarray(0, len), o);
    l.v.set(v.subarray(0, len), o);
    if (this.precision === 'f16') {
      for (let i = o; i < o + len; i++) {
        l.k[i] = roundFp16(l.k[i]);
        l.v[i] = roundFp16(l.v[i]);
      }
    }
  }

  /** Marks n more positions as held, after every layer has written them. */
  commit(n: number): void {
    this.used += n;
  }

  /** Forgets every position from `length` on. */
  truncate(length: number): void {
    this.check();
    if (!Number.isInteger(length) || length < 0 || length > this.used) {
      throw new EngineError('engine_bad_input', `cannot truncate a session of ${this.used} positions to ${length}`);
    }
    this.used = length;
  }

  free(): void {
    this.freed = true;
    for (const l of this.layers) {
      l.k = new Float32Array(0);
      l.v = new Float32Array(0);
    }
  }

  private check(): void {
    if (this.freed) throw new EngineError('engine_session_freed', 'this session was freed; create a new one');
  }
}
