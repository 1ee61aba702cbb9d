// Timing primitives the benchmarks share: best-of-batches wall time, and the machine's memory
// bandwidth measured as a large typed-array copy (the roofline every other number is read against).

/** Seconds per call: runs fn in doubling batches for about `seconds` and keeps the best batch. */
export function timeIt(fn: () => void, seconds: number): number {
  fn();
  let best = Infinity, spent = 0, reps = 1;
  while (spent < seconds) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    const dt = (performance.now() - t0) / 1000;
    best = Math.min(best, dt / reps);
    spent += dt;
    if (dt < 0.05) reps *= 2;
  }
  return best;
}

/** GB/s of a 256 MiB Float64Array copy, read plus write counted. */
export function copyBandwidth(): number {
  const a = new Float64Array(32 * 2 ** 20), b = new Float64Array(32 * 2 ** 20);
  a.fill(1);
  return (2 * a.byteLength) / timeIt(() => b.set(a), 1) / 1e9;
}
