// A server's layer speed, the planner's weight for its share: decode steps of one token through one
// layer of the model it was asked to run, on the kernels its stage runs on. Each step runs at
// position 0 (the cache rolled back), so every step is the same work; a round times steps until
// it has run long enough for the timer (pages may coarsen it), and the fastest of a few rounds
// counts, so a busy moment on the machine does not make a peer look slow. Measured once per model,
// after the stage loaded (the layer's tensors are at hand); a few tens of milliseconds.
import type { ComputeOptions, ModelFile } from '../../engine/model.ts';
import { openStage } from '../../engine/stage.ts';

export interface LayerSpeedOptions {
  readonly rounds?: number;
  /** A round runs at least this long (or `maxSteps`). */
  readonly roundMs?: number;
  readonly maxSteps?: number;
}

/** Decode tokens/s through `layer` alone (one layer: the planner weighs shares by it). */
export async function measureLayerSpeed(file: ModelFile, layer: number, compute?: ComputeOptions, o: LayerSpeedOptions = {}): Promise<number> {
  const stage = await openStage(file, layer, layer + 1, compute);
  const session = stage.createSession({ maxPositions: 1 });
  const hidden = Float32Array.from({ length: file.config.nEmbd }, (_, i) => Math.sin(i + 1) * 0.5);
  let best = 0;
  try {
    await session.extend(hidden, 1); // warm-up: first-call costs (kernel set-up, caches)
    for (let round = 0; round < (o.rounds ?? 3); round++) {
      const started = performance.now();
      let steps = 0;
      let elapsed = 0;
      do {
        session.truncate(0);
        await session.extend(hidden, 1);
        steps++;
        elapsed = performance.now() - started;
      } while (elapsed < (o.roundMs ?? 10) && steps < (o.maxSteps ?? 1000));
      best = Math.max(best, (steps * 1000) / Math.max(elapsed, 0.001));
    }
  } finally {
    session.free();
  }
  return best;
}
