// A session's keys and values on the GPU: one K and one V buffer per layer of the stage, grown by
// doubling (with a GPU-side copy) as positions are appended; truncation for rollback is O(1).
import { EngineError } from '../errors.ts';
import type { KvPrecision } from '../kv-cache.ts';
import type { GpuContext } from './gpu-context.ts';

export class GpuKvCache {
  readonly rowSize: number;
  readonly maxPositions: number;
  readonly precision: KvPrecision;
  /**
   * An f16 cache on a shader-f16 device is held as f16 (2 bytes a value); otherwise as f32. Rows of
   * an even count keep buffer copies whole words, as WebGPU requires (head sizes are even anyway).
   */
  readonly f16Storage: boolean;
  private readonly valueBytes: number;
  k: GPUBuffer[];
  v: GPUBuffer[];
  private cap: number;
  private used = 0;
  private freed = false;
  private readonly ctx: GpuContext;

  constructor(ctx: GpuContext, nLayers: number, rowSize: number, maxPositions: number, precision: KvPrecision, initialPositions = 64) {
    this.ctx = ctx;
    this.rowSize = rowSize;
    this.maxPositions = maxPositions;
    this.precision = precision;
    this.f16Storage = precision === 'f16' && ctx.shaderF16 && rowSize % 2 === 0;
    this.valueBytes = this.f16Storage ? 2 : 4;
    this.cap = Math.min(initialPositions, maxPositions);
    this.k = Array.from({ length: nLayers }, (_, i) => ctx.storage(`k${i}`, this.cap * rowSize * this.valueBytes));
    this.v = Array.from({ length: nLayers }, (_, i) => ctx.storage(`v${i}`, this.cap * rowSize * this.valueBytes));
  }

  get length(): number {
    return this.used;
  }

  /** Makes room for n more positions; throws when the context is full. */
  reserve(n: number): void {
    this.check();
    const need = this.used + n;
    if (need > this.maxPositions) {
      throw new EngineError(
        'engine_context_overflow',
        `the context is full: ${this.used} positions held, ${n} more requested, the limit is ${this.maxPositions}; start a new session or shorten the conversation`,
      );
    }
    if (need <= this.cap) return;
    const cap = Math.min(this.maxPositions, Math.max(need, this.cap * 2));
    const encoder = this.ctx.device.createCommandEncoder();
    const grow = (old: GPUBuffer[], tag: string) =>
      old.map((b, i) => {
        const nb = this.ctx.storage(`${tag}${i}`, cap * this.rowSize * this.valueBytes);
        if (this.used > 0) encoder.copyBufferToBuffer(b, 0, nb, 0, this.used * this.rowSize * this.valueBytes);
        return nb;
      });
    const k = grow(this.k, 'k'),
      v = grow(this.v, 'v');
    this.ctx.device.queue.submit([encoder.finish()]);
    for (const b of [...this.k, ...this.v]) b.destroy(); // freed once the copies above have run
    this.k = k;
    this.v = v;
    this.cap = cap;
  }

  commit(n: number): void {
    this.used += n;
  }

  truncate(length: number): void {
    this.check();
    if (!Number.isInteger(length) || length < 0 || length > this.used) {
      throw new EngineError('engine_bad_input', `cannot truncate a session of ${this.used} positions to ${length}`);
    }
    this.used = length;
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    for (const b of [...this.k, ...this.v]) b.destroy();
  }

  private check(): void {
    if (this.freed) throw new EngineError('engine_session_freed', 'this session was freed; create a new one');
  }
}
