// Seeded, platform-independent random numbers for test weights: integer arithmetic only (sfc32) and
// no Math.log/Math.cos, so every machine and Node version makes the same model bytes.

/** sfc32 seeded from a string (FNV-1a of the seed text), so each tensor gets its own stream by name. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: string) {
    let h = 0x811c9dc5;
    for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193) >>> 0;
    this.a = h;
    this.b = Math.imul(h, 0x9e3779b1) >>> 0;
    this.c = (h ^ 0xdeadbeef) >>> 0;
    this.d = 1;
    for (let i = 0; i < 15; i++) this.nextU32();
  }
  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }
  /** Approximately standard normal (Irwin–Hall of 4 uniforms: bounded by ±3.46, unit variance). */
  normal(): number {
    return (this.uniform() + this.uniform() + this.uniform() + this.uniform() - 2) * 1.7320508075688772;
  }
  /** `n` float32 values with mean `mean` and standard deviation `std`. */
  fill(n: number, std: number, mean = 0): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = mean + std * this.normal();
    return out;
  }
}
