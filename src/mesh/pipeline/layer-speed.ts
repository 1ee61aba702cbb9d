// A server's layer speed, the planner's weight for its share: decode steps of one token through the
// stage it loaded, on the backend that stage runs on (in a worker, on WebGPU or WASM), counted per
// layer. Each step runs at position 0 (the cache rolled back), so every step is the same work; a
// round times steps until it has run long enough for the timer (pages may coarsen it), and the
// fastest of a few rounds counts, so a busy moment on the machine does not make a peer look slow.
// Measured once per model, after the stage loaded; a few tens of milliseconds on a CPU.
import type { RunningStage } from './stage-runner.ts';

export interface LayerSpeedOptions {
  readonly rounds?: number;
  /** A round runs at least this long (or `maxSteps`). */
  readonly roundMs?: number;
  readonly maxSteps?: number;
}

/** Decode tokens/s through one layer of `stage` (its tokens/s through all its layers, times their count). */
export async function measureLayerSpeed(stage: RunningStage, o: LayerSpeedOptions = {}): Promise<number> {
  const session = await stage.createSession();
  const hidden = () => Float32Array.from({ length: stage.nEmbd }, (_, i) => Math.sin(i + 1) * 0.5);
  const layers = stage.layers.end - stage.layers.start;
  let best = 0;
  try {
    await session.extend(hidden(), 1); // warm-up: first-call costs (kernel set-up, pipelines, caches)
    for (let round = 0; round < (o.rounds ?? 3); round++) {
      const started = performance.now();
      let steps = 0;
      let elapsed = 0;
      do {
        await session.truncate(0);
        await session.extend(hidden(), 1);
        steps++;
        elapsed = performance.now() - started;
      } while (elapsed < (o.roundMs ?? 10) && steps < (o.maxSteps ?? 1000));
      best = Math.max(best, (steps * layers * 1000) / Math.max(elapsed, 0.001));
    }
  } finally {
    await session.free();
  }
  return best;
}
