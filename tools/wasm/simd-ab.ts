// A/B of the plain and relaxed-SIMD kernel builds (not a test): one matmul per weight shape, decode
// (n=1) and prefill (n=--prefill), single-threaded, timed in this process's CPU time (process.cpuUsage,
// little moved by other processes' load), best of --runs rounds with the two builds interleaved.
//   node tools/wasm/simd-ab.ts [--types Q8_0,Q5_0,Q4_K,Q6_K] [--prefill 64] [--runs 7] [--shapes bench,qwen0.5b] [--q8_0 int8|int16]
// (--q8_0: how the relaxed build dots Q8_0; by default as its dot_probe decides for this CPU.)
import { loadavg } from 'node:os';
import { GgmlType, ggmlTypeInfo, ggmlTypeName } from '../../src/gguf/ggml-types.ts';
import { quantizedWeight, randomArray } from '../../src/kernels/testing/data.ts';
import type { WeightMatrix } from '../../src/kernels/types.ts';
import { createWasmKernels, type WasmKernels } from '../../src/kernels/wasm/index.ts';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const TYPES = opt('types', 'Q8_0')
  .split(',')
  .map((n) => (GgmlType as Record<string, number>)[n]);
const PREFILL = Number(opt('prefill', '64'));
const RUNS = Number(opt('runs', '7'));

/** [rows, cols] of each distinct matmul: bench-llama (tools/models/registry.ts) and Qwen2.5-0.5B. */
const SHAPES: Record<string, [string, number, number][]> = {
  bench: [
    ['attn_q', 512, 512],
    ['attn_k', 256, 512],
    ['ffn_up', 1536, 512],
    ['ffn_down', 512, 1536],
    ['output', 32000, 512],
  ],
  'qwen0.5b': [
    ['attn_q', 896, 896],
    ['attn_k', 128, 896],
    ['ffn_up', 4864, 896],
    ['ffn_down', 896, 4864],
  ],
};

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** CPU ms of one call, best over `reps` calls after a warm-up. */
function best(k: WasmKernels, w: WeightMatrix, x: Float32Array, out: Float32Array, n: number, reps: number): number {
  k.matmul(out, x, w, n);
  let b = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = cpuMs();
    k.matmul(out, x, w, n);
    b = Math.min(b, cpuMs() - t0);
  }
  return b;
}

const plain = await createWasmKernels({ simd: 'plain' });
const q8 = opt('q8_0', '');
const relaxed = await createWasmKernels({ simd: 'relaxed', q8_0Int16: q8 ? q8 === 'int16' : undefined });
console.log(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; best of ${RUNS} interleaved rounds, CPU ms per matmul`,
);
console.log(`type  shape               rows x cols   | decode plain relaxed  speedup | prefill n=${PREFILL} plain relaxed speedup`);
for (const type of TYPES) {
  for (const set of opt('shapes', 'bench,qwen0.5b').split(',')) {
    for (const [name, rows, cols] of SHAPES[set]) {
      if (cols % (ggmlTypeInfo(type)?.blockSize ?? 1) !== 0) continue; // e.g. 896 columns in K-quants: llama.cpp picks Q5_0/Q8_0 there
      const w = quantizedWeight(name, type, rows, cols, randomArray(rows + cols, rows * cols, 0.1));
      const x = randomArray(7, PREFILL * cols),
        out = new Float32Array(PREFILL * rows);
      // Enough calls per round that one round of a small shape still takes some milliseconds.
      const reps = Math.max(3, Math.ceil(2e7 / (rows * cols)));
      const t = { pd: Infinity, rd: Infinity, pp: Infinity, rp: Infinity };
      for (let r = 0; r < RUNS; r++) {
        t.pd = Math.min(t.pd, best(plain, w, x, out, 1, reps));
        t.rd = Math.min(t.rd, best(relaxed, w, x, out, 1, reps));
        t.pp = Math.min(t.pp, best(plain, w, x, out, PREFILL, Math.ceil(reps / 16)));
        t.rp = Math.min(t.rp, best(relaxed, w, x, out, PREFILL, Math.ceil(reps / 16)));
      }
      const f = (v: number) => v.toFixed(3).padStart(8);
      console.log(
        `${ggmlTypeName(type).padEnd(5)} ${`${set} ${name}`.padEnd(19)} ${`${rows} x ${cols}`.padStart(12)} | ${f(t.pd)} ${f(t.rd)} ${(t.pd / t.rd).toFixed(2).padStart(7)}x | ${f(t.pp)} ${f(t.rp)} ${(t.pp / t.rp).toFixed(2).padStart(7)}x`,
      );
    }
  }
}
console.log(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
