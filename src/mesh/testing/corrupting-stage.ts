// Stages that lie, for the stage-check adversary tests and the soak: each computes its layers
// honestly (so its own KV cache stays right, as a careful liar's would) and then corrupts what it
// sends on, in one of the modes below, from its `after`-th frame of a session on.
import type { ComputeOptions, ModelFile } from '../../engine/model.ts';
import { openStage } from '../../engine/stage.ts';
import { openTail } from '../../engine/tail.ts';

export type CorruptionMode = 'noise' | 'scale' | 'perturb' | 'constant' | 'nan' | 'stale' | 'replay';
export const CORRUPTION_MODES: readonly CorruptionMode[] = ['noise', 'scale', 'perturb', 'constant', 'nan', 'stale', 'replay'];

export interface CorruptionOptions {
  readonly mode: CorruptionMode;
  /** Frames of each session answered honestly first (a stage that turns bad mid-answer). */
  readonly after?: number;
  /** The kernels the honest part runs on (default: the reference kernels). */
  readonly compute?: ComputeOptions;
  /** Frames corrupted so far, across sessions (the test's view). */
  readonly counter?: { corrupted: number };
}

/** A pseudo-random normal deviate (Box–Muller on Math.random: a test's noise needs no CSPRNG). */
function gaussian(): number {
  return Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
}

/**
 * `out` (this frame's honest rows) corrupted: noise (σ 0.1 of each value's row scale), scaled by
 * 1.01, 1e-2 added, a constant, NaN, the previous frame's rows (stale positions), or the session's
 * first frame's last row again (a replayed frame).
 */
export function corrupt(mode: CorruptionMode, out: Float32Array, width: number, previous: Float32Array | undefined, first: Float32Array): Float32Array {
  const x = Float32Array.from(out);
  switch (mode) {
    case 'noise':
      for (let i = 0; i < x.length; i++) x[i] += 0.1 * gaussian();
      break;
    case 'scale':
      for (let i = 0; i < x.length; i++) x[i] *= 1.01;
      break;
    case 'perturb':
      for (let i = 0; i < x.length; i++) x[i] += 1e-2;
      break;
    case 'constant':
      x.fill(0.5);
      break;
    case 'nan':
      x[0] = Number.NaN;
      break;
    case 'stale': {
      // The rows of an earlier position: the previous frame's last row in every row.
      const row = (previous ?? first).subarray((previous ?? first).length - width);
      for (let r = 0; r < x.length / width; r++) x.set(row, r * width);
      break;
    }
    case 'replay': {
      const row = first.subarray(first.length - width);
      for (let r = 0; r < x.length / width; r++) x.set(row, r * width);
      break;
    }
  }
  return x;
}

/** Stage kernels that compute honestly, then corrupt every frame from the `after`-th of each session on. */
export function corruptingCompute(o: CorruptionOptions): ComputeOptions {
  return {
    stages: {
      name: `corrupting-${o.mode}`,
      async openStage(model: ModelFile, first: number, end: number) {
        const stage = await openStage(model, first, end, o.compute ? { kernels: o.compute.kernels } : undefined);
        const width = model.config.nEmbd;
        return {
          first,
          end,
          createSession(opts) {
            const s = stage.createSession(opts);
            let frames = 0;
            let firstOut: Float32Array | undefined;
            let previous: Float32Array | undefined;
            return {
              get length() {
                return s.length;
              },
              truncate: (n) => s.truncate(n),
              free: () => s.free(),
              async extend(hidden, n) {
                const out = await s.extend(hidden, n);
                firstOut ??= out;
                const sent = ++frames > (o.after ?? 0) ? corrupt(o.mode, out, width, previous, firstOut) : out;
                if (sent !== out && o.counter) o.counter.corrupted++;
                previous = out;
                return sent;
              },
            };
          },
        };
      },
      openTail: (model: ModelFile) => openTail(model, o.compute),
    },
  };
}
