// Micro-benchmark of the WASM matmul (not a test): decode (n=1) and prefill (n>1) on the benchmark
// model's matrix shapes, in GFLOP/s and weight GB/s, against the reference kernels and the memory
// bandwidth of a large typed-array copy measured in the same run.
//   node tools/wasm/bench.ts [--types Q8_0,F16] [--prefill 64] [--seconds 0.5] [--threads 1,2]
import { GgmlType, ggmlTypeName } from '../../src/gguf/ggml-types.ts';
import { referenceKernels } from '../../src/kernels/reference/index.ts';
import { quantizedWeight, randomArray } from '../../src/kernels/testing/data.ts';
import type { Kernels, WeightMatrix } from '../../src/kernels/types.ts';
import { createWasmKernels } from '../../src/kernels/wasm/index.ts';
import { copyBandwidth, timeIt } from '../bench/measure.ts';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const TYPES = opt('types', 'Q8_0,F16,Q4_0,Q5_0,Q4_K,Q5_K,Q6_K,BF16,F32')
  .split(',')
  .map((n) => (GgmlType as Record<string, number>)[n]);
const PREFILL = Number(opt('prefill', '64'));
const SECONDS = Number(opt('seconds', '0.5'));
const THREADS = opt('threads', '1,2').split(',').map(Number);

// The bench-llama shape (tools/models/registry.ts): width 512, 8 layers, 8 heads / 4 KV heads, FFN 1536, vocab 32000.
const LAYER: [string, number, number][] = [
  ['attn_q', 512, 512],
  ['attn_k', 256, 512],
  ['attn_v', 256, 512],
  ['attn_output', 512, 512],
  ['ffn_gate', 1536, 512],
  ['ffn_up', 1536, 512],
  ['ffn_down', 512, 1536],
];
const LAYERS = 8,
  VOCAB = 32000;

function model(type: number): WeightMatrix[] {
  const ws: WeightMatrix[] = [];
  for (let l = 0; l < LAYERS; l++) {
    for (const [name, rows, cols] of LAYER) ws.push(quantizedWeight(`blk.${l}.${name}`, type, rows, cols, randomArray(l * 16 + rows + cols, rows * cols, 0.1)));
  }
  ws.push(quantizedWeight('output', type, VOCAB, 512, randomArray(99, VOCAB * 512, 0.1)));
  return ws;
}

/** One forward's worth of matmuls over n tokens; returns seconds. */
function forward(k: Kernels, ws: WeightMatrix[], n: number, seconds?: number): number {
  const x = randomArray(7, n * 1536),
    out = new Float32Array(n * VOCAB);
  return timeIt(() => {
    for (const w of ws) k.matmul(out, x, w, n);
  }, seconds ?? SECONDS);
}

const fmt = (v: number, d = 2) => v.toFixed(d).padStart(8);

const bw = copyBandwidth();
console.log(`memory bandwidth (256 MiB typed-array copy, read+write): ${bw.toFixed(1)} GB/s`);
console.log(`matmuls of one bench-llama forward (8 layers + output head, 41.6M weights); prefill n=${PREFILL}`);
console.log('type     thr | decode tok/s  GFLOP/s  weight GB/s  %copyBW | prefill tok/s  GFLOP/s | reference decode tok/s');
for (const type of TYPES) {
  const ws = model(type);
  const flops = ws.reduce((s, w) => s + 2 * w.rows * w.cols, 0);
  const bytes = ws.reduce((s, w) => s + w.data.byteLength, 0);
  const ref = type === TYPES[0] ? forward(referenceKernels, ws, 1, 0.1) : NaN;
  for (const threads of THREADS) {
    const wasm = await createWasmKernels({ threads });
    const dec = forward(wasm, ws, 1);
    const pre = forward(wasm, ws, PREFILL) / PREFILL;
    wasm.dispose();
    const refCol = Number.isNaN(ref) || threads !== THREADS[0] ? '' : fmt(1 / ref, 2);
    console.log(
      `${ggmlTypeName(type).padEnd(8)} ${String(wasm.threads).padStart(3)} | ${fmt(1 / dec, 1)}      ${fmt(flops / dec / 1e9)} ${fmt(bytes / dec / 1e9)}    ${fmt((100 * bytes) / dec / 1e9 / bw, 0)}% | ${fmt(1 / pre, 1)}     ${fmt(flops / pre / 1e9)} | ${refCol}`,
    );
  }
}
