// The WASM matmul against the reference for every weight type and the shapes the engine uses.
// Both compute the same products: the activations are rounded identically (checked bit for bit in
// activations.test.ts) and quantized weights are dotted in integers, so the results differ only by
// f32 summation order. The tolerance is the classic bound for summing m terms in f32,
// (m + c)·2^-24·Σ|w_i·x_i|, with m = cols/4 (the longest chain of additions in one SIMD lane). Observed
// errors stay under 2% of it, and it is still far below the |w_i·x_i| ≈ Σ/cols that a single wrongly
// decoded weight would add, so every decoding slip fails the test.
import { beforeAll, describe, expect, it } from 'vitest';
import { GgmlType, ggmlTypeName } from '../../gguf/ggml-types.ts';
import { dequantizeRow } from '../../gguf/quant/index.ts';
import { roundActivations } from '../reference/activation-rounding.ts';
import { matmul as referenceMatmul } from '../reference/matmul.ts';
import { quantizedWeight, randomArray } from '../testing/data.ts';
import type { WeightMatrix } from '../types.ts';
import { createWasmKernels, type WasmKernels } from './index.ts';

const EPS = 2 ** -24;
const TYPES = [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];

let wasm: WasmKernels;
beforeAll(async () => {
  wasm = await createWasmKernels();
});

/** Σ_c |w[r][c]·x[t][c]| with the activations as ggml rounds them: the scale of the summation error. */
function magnitudes(w: WeightMatrix, x: Float32Array, n: number): Float64Array {
  const decoded = dequantizeRow(w.type, w.data, w.rows * w.cols);
  const m = new Float64Array(n * w.rows);
  for (let t = 0; t < n; t++) {
    const xr = roundActivations(w.type, x.subarray(t * w.cols, (t + 1) * w.cols));
    for (let r = 0; r < w.rows; r++) {
      let s = 0;
      for (let c = 0; c < w.cols; c++) s += Math.abs(decoded[r * w.cols + c] * xr[c]);
      m[t * w.rows + r] = s;
    }
  }
  return m;
}

function expectClose(w: WeightMatrix, x: Float32Array, n: number): void {
  const want = new Float32Array(n * w.rows),
    got = new Float32Array(n * w.rows);
  referenceMatmul(want, x, w, n);
  wasm.matmul(got, x, w, n);
  const mag = magnitudes(w, x, n);
  const factor = (w.cols / 4 + 16) * EPS;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= factor * mag[i])) {
      expect.fail(`${ggmlTypeName(w.type)} ${w.rows}x${w.cols} n=${n}: out[${i}] = ${got[i]}, reference ${want[i]} (error ${err}, allowed ${factor * mag[i]})`);
    }
  }
}

describe('WASM matmul equals the reference', () => {
  for (const type of TYPES) {
    it(`${ggmlTypeName(type)}: n = 1, 2, 7, 32; cols 256, 512, 1536; odd row counts`, () => {
      for (const [rows, cols] of [
        [5, 256],
        [33, 512],
        [7, 1536],
      ]) {
        const w = quantizedWeight('w', type, rows, cols, randomArray(rows * 7 + type, rows * cols, 0.5));
        for (const n of [1, 2, 7, 32]) expectClose(w, randomArray(n + cols + type, n * cols, 2), n);
      }
    });
  }

  it("Q8_0: rows spanning several of the kernel's row blocks (128 KiB each), an odd row left in the last", () => {
    const rows = 259,
      cols = 1536; // 1632-byte rows: blocks of 80 rows, then 19
    const w = quantizedWeight('w', GgmlType.Q8_0, rows, cols, randomArray(11, rows * cols, 0.5));
    for (const n of [4, 9]) expectClose(w, randomArray(n + 3, n * cols, 2), n);
  });

  for (const type of [GgmlType.F32, GgmlType.F16, GgmlType.BF16]) {
    it(`${ggmlTypeName(type)}: column counts that are not a multiple of the SIMD width`, () => {
      for (const cols of [1, 7, 13, 100]) {
        const w = quantizedWeight('w', type, 3, cols, randomArray(cols, 3 * cols));
        for (const n of [1, 5]) expectClose(w, randomArray(n * cols, n * cols), n);
      }
    });
  }

  it('activation rows with all-zero blocks, huge and tiny values', () => {
    const cols = 512,
      n = 3;
    const x = randomArray(3, n * cols, 1);
    x.fill(0, 0, 256); // an all-zero Q8_K block and eight all-zero Q8_0 blocks
    for (let i = 600; i < 700; i++) x[i] *= 1e4;
    for (let i = 1100; i < 1200; i++) x[i] *= 1e-6;
    for (const type of TYPES) expectClose(quantizedWeight('w', type, 9, cols, randomArray(type, 9 * cols)), x, n);
  });

  it('F16 weights holding inf or NaN give inf/NaN where the reference does', () => {
    const cols = 64,
      rows = 3;
    const w = quantizedWeight('w', GgmlType.F16, rows, cols, randomArray(5, rows * cols));
    const bits = new Uint16Array(w.data.buffer, w.data.byteOffset, rows * cols);
    bits[10] = 0x7c00; // +inf in row 0
    bits[cols + 3] = 0x7e00; // NaN in row 1
    const x = Float32Array.from(randomArray(6, cols), (v) => Math.abs(v) + 0.1);
    const want = new Float32Array(rows),
      got = new Float32Array(rows);
    referenceMatmul(want, x, w, 1);
    wasm.matmul(got, x, w, 1);
    expect(got[0]).toBe(Infinity);
    expect(want[0]).toBe(Infinity);
    expect(Number.isNaN(got[1]) && Number.isNaN(want[1])).toBe(true);
    expect(Math.abs(got[2] - want[2])).toBeLessThan(1e-5);
  });

  it('refuses a block-quantized weight whose scale is inf or NaN (a corrupt file), naming it', () => {
    for (const [type, scaleAt] of [
      [GgmlType.Q8_0, 34 * 3],
      [GgmlType.Q4_K, 144 + 2],
      [GgmlType.Q6_K, 208],
    ] as const) {
      const w = quantizedWeight('blk.0.ffn_up.weight', type, 2, 256, randomArray(8, 512));
      w.data[scaleAt] = 0x00;
      w.data[scaleAt + 1] = 0x7c; // +inf
      expect(() => wasm.matmul(new Float32Array(2), randomArray(9, 256), w, 1)).toThrow(/blk.0.ffn_up.weight has an infinite or NaN block scale/);
    }
  });

  it('refuses buffers that do not match the shapes, as the reference does', () => {
    const w = quantizedWeight('w', GgmlType.F32, 4, 4, randomArray(5, 16));
    expect(() => wasm.matmul(new Float32Array(4), new Float32Array(4), w, 2)).toThrow(/matmul w/);
    const short = { ...w, data: w.data.subarray(0, 32) };
    expect(() => wasm.matmul(new Float32Array(4), new Float32Array(4), short, 1)).toThrow(/has 32 bytes/);
    const q2k = { ...w, type: GgmlType.Q2_K, cols: 256, data: new Uint8Array(4 * 84) };
    expect(() => wasm.matmul(new Float32Array(4), new Float32Array(256), q2k, 1)).toThrow(/no matmul for Q2_K/);
  });
});
