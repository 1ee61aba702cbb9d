// The relaxed-SIMD build (int8 dot products) against the plain build: every output bit for bit, for
// every weight type, batches of 1..17 rows, on 1 and 2 threads, for Q8_0 weights holding -128, and
// with Q8_0 dotted in int8 or (where int8 dots are slow) in int16.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GgmlType, ggmlTypeName } from '../../gguf/ggml-types.ts';
import { quantizedWeight, randomArray } from '../testing/data.ts';
import type { WeightMatrix } from '../types.ts';
import { createWasmKernels, type WasmKernels } from './index.ts';
import { relaxedSimdSupported } from './load-module.ts';

const TYPES = [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.F32, GgmlType.F16, GgmlType.BF16];
const BATCHES = Array.from({ length: 17 }, (_, i) => i + 1);

const builds: Record<string, WasmKernels> = {};
beforeAll(async () => {
  for (const threads of [1, 2]) {
    builds[`plain${threads}`] = await createWasmKernels({ threads, simd: 'plain' });
    builds[`relaxed${threads}`] = await createWasmKernels({ threads, simd: 'relaxed', q8_0Int16: false });
    builds[`relaxedI16${threads}`] = await createWasmKernels({ threads, simd: 'relaxed', q8_0Int16: true });
  }
});
afterAll(() => {
  for (const k of Object.values(builds)) k.dispose();
});

/** The first output where a relaxed build differs from the plain build in any bit, or undefined. */
function firstDifference(w: WeightMatrix, x: Float32Array, n: number, threads: number): string | undefined {
  const run = (k: WasmKernels) => {
    const out = new Float32Array(n * w.rows);
    k.matmul(out, x, w, n);
    return out;
  };
  const plain = run(builds[`plain${threads}`]);
  for (const name of ['relaxed', 'relaxedI16']) {
    const relaxed = run(builds[`${name}${threads}`]);
    const a = new Uint32Array(plain.buffer),
      b = new Uint32Array(relaxed.buffer);
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i])
        return `${ggmlTypeName(w.type)} ${w.rows}x${w.cols} n=${n} threads=${threads} ${name}: out[${i}] plain ${plain[i]}, relaxed ${relaxed[i]}`;
    }
  }
  return undefined;
}

describe('relaxed SIMD build', () => {
  it('is detected in Node 22 and picked by default', async () => {
    expect(relaxedSimdSupported()).toBe(true);
    const k = await createWasmKernels();
    expect(k.simd).toBe(process.env.MESH_WASM_SIMD === 'plain' ? 'plain' : 'relaxed');
    expect(builds.plain2.simd).toBe('plain');
    expect(builds.relaxed2.simd).toBe('relaxed');
    expect(builds.relaxed2.threads).toBe(2);
    expect([builds.plain1.q8_0Dot, builds.relaxed1.q8_0Dot, builds.relaxedI161.q8_0Dot]).toEqual(['int16', 'int8', 'int16']);
  });

  for (const type of TYPES) {
    it(`${ggmlTypeName(type)}: the same bits as the plain build for batches of 1..17 rows, 1 and 2 threads`, () => {
      // 70 rows: quads, pairs and a row left over; 1024 columns: enough work per call for 2 threads to split it.
      const rows = 70,
        cols = 1024;
      const w = quantizedWeight('w', type, rows, cols, randomArray(type + 5, rows * cols, 0.5));
      for (const threads of [1, 2]) {
        for (const n of BATCHES) {
          const diff = firstDifference(w, randomArray(n * 31 + type, n * cols, 2), n, threads);
          if (diff) expect.fail(diff);
        }
      }
    });
  }

  /** A Q8_0 weight with the quant -128 in every fourth block, at varying positions. */
  function withMin128(rows: number, cols: number): WeightMatrix {
    const w = quantizedWeight('w', GgmlType.Q8_0, rows, cols, randomArray(3, rows * cols, 0.5));
    for (let b = 0; b < (rows * cols) / 32; b += 4) w.data[b * 34 + 2 + (b % 32)] = 0x80;
    return w;
  }

  it('Q8_0 weights holding the quant -128 still give the same bits (dotted widened)', () => {
    const w = withMin128(37, 512);
    for (const threads of [1, 2]) {
      for (const n of [1, 2, 3, 4, 5, 8, 9]) {
        const diff = firstDifference(w, randomArray(n + 40, n * 512, 2), n, threads);
        if (diff) expect.fail(diff);
      }
    }
  });

  it('a Q8_0 weight holding -128 read straight into WASM memory (weightHome) is flagged as well', () => {
    const js = withMin128(37, 512);
    const outs = [builds.plain1, builds.relaxed1, builds.relaxedI161].map((k) => {
      const slot = k.weightHome!.reserve({ name: js.name, type: js.type, rows: js.rows, cols: js.cols }, js.data.byteLength);
      slot.write(js.data, 0);
      const out = new Float32Array(3 * js.rows);
      k.matmul(out, randomArray(41, 3 * 512, 2), slot.seal(), 3);
      return new Uint32Array(out.buffer);
    });
    expect(outs[1]).toEqual(outs[0]);
    expect(outs[2]).toEqual(outs[0]);
  });

  it('an unknown MESH_WASM_SIMD is refused with the values it takes', async () => {
    const saved = process.env.MESH_WASM_SIMD;
    process.env.MESH_WASM_SIMD = 'fast';
    try {
      await expect(createWasmKernels()).rejects.toThrow(/MESH_WASM_SIMD is "fast"; set it to relaxed or plain/);
    } finally {
      if (saved === undefined) delete process.env.MESH_WASM_SIMD;
      else process.env.MESH_WASM_SIMD = saved;
    }
  });
});
