// A small seeded PRNG (xoshiro128**, seeded through splitmix32) so a sampling seed gives the same
// tokens in Node and every browser: only 32-bit integer arithmetic, no platform randomness.

export class Prng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** Any finite number seeds it (integers up to 2^53 use both halves); the same seed, the same stream. */
  constructor(seed: number) {
    let x = (seed >>> 0) ^ Math.floor(seed / 0x100000000);
    const next = () => {
      // splitmix32: spreads a small seed over the whole 128-bit state (never all zero in practice).
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  nextFloat(): number {
    return this.nextU32() / 0x100000000;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A seed for runs that asked for none (not reproducible, by design). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 0x100000000);
}
