// Finds the activations whose ggml rounding (activation-rounding.ts) a last-bit change would flip.
// Two correct implementations that add floats in different orders differ by an ulp or so now and
// then; where such a value sits on a rounding boundary of the int8 (Q8_0/Q8_K) conversion, or moves
// its block's fp16 scale across a tie, the two round differently and the model's output moves by far
// more than an ulp. engine/parity.test.ts uses this probe to show that each discrepancy with llama.cpp
// on a one-layer model of the benchmark width is one such flip, and not a bug.
import { f32Bits, f32FromBits } from '../../gguf/quant/half.ts';
import { GgmlType, ggmlTypeInfo } from '../../gguf/ggml-types.ts';
import { roundActivations, vecDotType } from '../reference/activation-rounding.ts';
import { mulberry32 } from '../../testing/mulberry32.ts';

/** One activation that rounds differently when moved by `ulps` units in the last place. */
export interface LastBitFlip {
  /** Index into the probed row. */
  readonly index: number;
  /** Signed distance, in ulps of its block's largest value, to the nearest value that rounds the other way. */
  readonly ulps: number;
  /** That value: the activation as an implementation summing in another order might compute it. */
  readonly value: number;
}

/** The f32 `steps` representable values away from x (negative steps go down). */
export function stepFloat32(x: number, steps: number): number {
  const bits = f32Bits(x);
  if (x === 0) return steps === 0 ? x : f32FromBits(steps > 0 ? steps : 0x80000000 + -steps);
  // Away from zero increases the magnitude bits; towards zero decreases them.
  const away = x > 0 === steps > 0;
  return f32FromBits(away ? bits + Math.abs(steps) : bits - Math.abs(steps));
}

function sameRounding(a: Float32Array, b: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Every element of `row` (activations entering a matmul with a `weightType` weight) whose rounding
 * block changes when that element alone moves by at most `maxUlps` ulps of the block's largest
 * value: an int8 value crossing a
 * half-step, or the block's largest value moving the fp16 scale. Only the int8 conversions are probed
 * (F16/BF16 rounding flips are frequent and tiny; F32 has none): other types give an empty list.
 */
export function lastBitFlips(weightType: number, row: Float32Array, maxUlps: number): LastBitFlip[] {
  const type = vecDotType(weightType);
  if (type !== GgmlType.Q8_0 && type !== GgmlType.Q8_K) return [];
  const block = ggmlTypeInfo(type)!.blockSize;
  const flips: LastBitFlip[] = [];
  for (let b = 0; b + block <= row.length; b += block) {
    const x = row.slice(b, b + block);
    const want = roundActivations(weightType, x);
    // Float error is relative to the magnitudes summed, not to a small result: step every element by
    // ulps of the block's largest value, the size of error a reordered sum leaves in any of them.
    let amax = 0;
    for (const v of x) amax = Math.max(amax, Math.abs(v));
    const quantum = Math.abs(stepFloat32(amax, 1) - amax);
    for (let j = 0; j < block; j++) {
      const original = x[j];
      search: for (let u = 1; u <= maxUlps; u++) {
        for (const s of [u, -u]) {
          x[j] = Math.fround(original + s * quantum);
          if (!sameRounding(roundActivations(weightType, x), want)) {
            flips.push({ index: b + j, ulps: s, value: x[j] });
            break search;
          }
        }
      }
      x[j] = original;
    }
  }
  return flips;
}

/** A flip located in a forward pass: the n-th matmul call (in call order), its token row, the flip. */
export interface LocatedFlip extends LastBitFlip {
  readonly call: number;
  readonly weight: string;
  readonly token: number;
}

/**
 * Wraps a kernel set's matmul: with `probe` set, records the last-bit flips of one token's activation
 * row at every matmul; with `nudge` set, moves that one activation to its flipped value before the
 * matmul runs. Calls are counted from the last reset(), so a forward pass replays identically.
 */
export class FlipProbe<K extends { matmul(out: Float32Array, x: Float32Array, w: { name: string; type: number; cols: number }, n: number): void }> {
  readonly kernels: K;
  readonly found: LocatedFlip[] = [];
  probe: { token: number; maxUlps: number } | undefined;
  nudge: LocatedFlip | undefined;
  private calls = 0;

  constructor(base: K) {
    const matmul: K['matmul'] = (out, x, w, n) => {
      const call = this.calls++;
      const p = this.probe;
      if (p && p.token < n) {
        const row = x.subarray(p.token * w.cols, (p.token + 1) * w.cols);
        for (const f of lastBitFlips(w.type, row, p.maxUlps)) this.found.push({ ...f, call, weight: w.name, token: p.token });
      }
      const nudge = this.nudge;
      if (nudge && nudge.call === call) {
        x = Float32Array.from(x.subarray(0, n * w.cols));
        x[nudge.token * w.cols + nudge.index] = nudge.value;
      }
      base.matmul(out, x, w, n);
    };
    this.kernels = { ...base, matmul };
  }

  reset(): void {
    this.calls = 0;
  }
}

/**
 * A kernel set whose matmul first moves every activation by one ulp of its row's largest magnitude,
 * up or down at random (seeded): the error another, equally correct summation order leaves (float
 * error is relative to the magnitudes summed, not to a small result; see lastBitFlips). How far that
 * moves a model's output is the spread of correct implementations; an F16 model's f16 activation
 * rounding turns some of those ulps into f16 flips (frequent, so lastBitFlips does not list them).
 */
export function jitteredKernels<K extends { matmul(out: Float32Array, x: Float32Array, w: { cols: number }, n: number): void }>(base: K, seed: number): K {
  const random = mulberry32(seed);
  const matmul: K['matmul'] = (out, x, w, n) => {
    const moved = Float32Array.from(x.subarray(0, n * w.cols));
    for (let t = 0; t < n; t++) {
      const row = moved.subarray(t * w.cols, (t + 1) * w.cols);
      let amax = 0;
      for (const v of row) amax = Math.max(amax, Math.abs(v));
      const quantum = Math.abs(stepFloat32(amax, 1) - amax);
      for (let i = 0; i < row.length; i++) row[i] = Math.fround(row[i] + (random() < 0.5 ? -quantum : quantum));
    }
    base.matmul(out, moved, w, n);
  };
  return { ...base, matmul };
}
