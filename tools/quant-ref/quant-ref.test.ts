// The project's quantizers must write the same bytes as llama.cpp's reference quantizers, and
// dequantize back within each format's error.
import { describe, expect, it } from 'vitest';
import { GgmlType, ggmlTypeName } from '../../src/gguf/ggml-types.ts';
import { dequantizeRow, quantizeRow } from '../../src/gguf/quant/index.ts';
import { Prng } from '../models/prng.ts';
import { quantizeWithLlamaCpp } from './quant-ref.ts';

/** Rows that exercise scale selection, rounding ties, clamping and the zero paths. */
function testRows(length: number): { label: string; row: Float32Array }[] {
  const rng = new Prng(`quant-ref-${length}`);
  const rows: { label: string; row: Float32Array }[] = [];
  const add = (label: string, make: (i: number) => number) => rows.push({ label, row: Float32Array.from({ length }, (_, i) => make(i)) });
  for (const scale of [1, 0.02, 1e-3, 1e-6, 1e-20, 37, 3000]) add(`normal×${scale}`, () => scale * rng.normal());
  add('uniform', () => rng.uniform() * 2 - 1);
  add('zeros', () => 0);
  add('negative zeros', () => -0);
  add('mostly zeros', (i) => (i % 37 === 5 ? rng.normal() : 0));
  add('one outlier', (i) => (i === length >> 1 ? 50 : 0.01 * rng.normal()));
  add('outliers each block', (i) => (i % 32 === 7 ? -20 * rng.uniform() : rng.normal()));
  add('negative only', () => -Math.abs(rng.normal()) - 0.1);
  add('positive only', () => Math.abs(rng.normal()) + 0.1);
  add('constant', () => 0.75);
  add('negative constant', () => -1.5);
  add('half-step grid (rounding ties)', () => (Math.floor(rng.uniform() * 33) - 16) * 0.5);
  add('small integers', () => Math.floor(rng.uniform() * 16) - 8);
  add('tiny + normal blocks', (i) => ((i >> 5) % 2 ? 1e-9 * rng.normal() : rng.normal()));
  add('skewed', () => {
    const v = rng.normal();
    return v > 0 ? v * v * v : v * 0.1;
  });
  add('ramp', (i) => i / length - 0.5);
  add('block sign flips', (i) => ((i >> 4) % 2 ? 1 : -1) * (0.5 + rng.uniform()));
  for (let r = 0; r < 40; r++) {
    const scale = 10 ** (rng.uniform() * 8 - 4);
    const shift = rng.uniform() < 0.3 ? scale * (rng.uniform() * 4 - 2) : 0;
    add(`random ${r}`, () => shift + scale * rng.normal());
  }
  return rows;
}

/** Values only the float formats see: subnormals, overflow to infinity, infinities. */
function floatEdgeRow(): Float32Array {
  return new Float32Array([
    1e-40,
    -1e-40,
    5.96e-8,
    2.98e-8,
    6.1e-5,
    65504,
    65519,
    65520,
    1e6,
    -1e6,
    Infinity,
    -Infinity,
    3.4e38,
    1 + 2 ** -11,
    1 + 3 * 2 ** -11,
    1 + 2 ** -8,
    1 + 3 * 2 ** -8,
    -0,
    0,
    1e-45,
  ]);
}

const TYPES = [GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];

/** Worst-case relative RMS error of dequantize(quantize(x)) on normal rows. */
const RMS_BOUND: Record<number, number> = {
  [GgmlType.F16]: 5e-4,
  [GgmlType.BF16]: 4e-3,
  [GgmlType.Q8_0]: 0.008,
  [GgmlType.Q4_0]: 0.12,
  [GgmlType.Q5_0]: 0.06,
  [GgmlType.Q4_K]: 0.11,
  [GgmlType.Q5_K]: 0.055,
  [GgmlType.Q6_K]: 0.03,
};

function rms(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s / x.length);
}

describe('quantizers are byte-identical to llama.cpp quantize_row_*_ref', () => {
  for (const type of TYPES) {
    const name = ggmlTypeName(type);
    it(name, () => {
      const cases = [...testRows(256), ...testRows(1024)];
      if (type === GgmlType.F16 || type === GgmlType.BF16) cases.push({ label: 'float edges', row: floatEdgeRow() });
      const expected = quantizeWithLlamaCpp(
        name,
        cases.map((c) => c.row),
      );
      let offset = 0;
      for (const { label, row } of cases) {
        const ours = quantizeRow(type, row);
        const theirs = expected.subarray(offset, offset + ours.byteLength);
        offset += ours.byteLength;
        if (!Buffer.from(ours).equals(Buffer.from(theirs))) {
          const at = ours.findIndex((b, i) => b !== theirs[i]);
          expect.fail(`${name} differs from llama.cpp on "${label}" (${row.length} values) at byte ${at}: ours ${ours[at]}, llama.cpp ${theirs[at]}`);
        }
      }
      expect(offset).toBe(expected.byteLength);
    });
  }
});

describe('dequantize(quantize(x)) stays within each format’s error', () => {
  for (const type of TYPES) {
    it(ggmlTypeName(type), () => {
      const rng = new Prng(`roundtrip-${type}`);
      for (const scale of [1, 1e-3, 100]) {
        const x = rng.fill(4096, scale);
        const y = dequantizeRow(type, quantizeRow(type, x), x.length);
        const err = rms(x.map((v, i) => v - y[i]));
        expect(err / rms(x)).toBeLessThan(RMS_BOUND[type]);
        expect(err / rms(x)).toBeGreaterThan(type === GgmlType.F16 ? 1e-6 : 1e-4); // it really is lossy: the bound bites
      }
      const zeros = new Float32Array(512);
      expect(dequantizeRow(type, quantizeRow(type, zeros), 512).every((v) => v === 0)).toBe(true);
    });
  }
});
