// Test-only: the one small seeded generator the tests share for random inputs (kernel data, tokenizer
// texts, message fuzzing), so a failing seed replays the same case. Not for sampling: the engine's
// seeded draws use src/engine/prng.ts, whose stream is part of its behaviour.

/** mulberry32: uniform in [0, 1), the same stream for the same 32-bit seed on every platform. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
