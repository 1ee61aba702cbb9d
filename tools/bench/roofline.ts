// The WASM SIMD matmul roofline, measured in the same run as the engines: the matmuls of one forward
// of the benchmark model on our kernels, with nothing else (the most any engine on these kernels can
// reach). The memory-bandwidth roofline is copyBandwidth in measure.ts.
import { readFileSync } from 'node:fs';
import { memorySource } from '../../src/gguf/byte-source.ts';
import { openModel } from '../../src/engine/model.ts';
import { loadLayerWeights, loadTailWeights } from '../../src/engine/weights.ts';
import type { WeightMatrix } from '../../src/kernels/types.ts';
import { createWasmKernels } from '../../src/kernels/wasm/index.ts';
import { timeIt } from './measure.ts';

export interface Roofline {
  /** Weight bytes streamed per token. */
  readonly weightBytes: number;
  readonly decode: number;
  readonly prefill: number;
  /** Weight GB/s at the decode roofline. */
  readonly decodeGBs: number;
}

/** Matmul-only tokens/s of the model's own weights on the WASM kernels (n=1 decode, n=prefill batch). */
export async function wasmRoofline(modelPath: string, threads: number, prefillTokens: number): Promise<Roofline> {
  const buf = readFileSync(modelPath);
  const model = await openModel(memorySource(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)));
  const c = model.config;
  const ws: WeightMatrix[] = [];
  for (let il = 0; il < c.nLayer; il++) {
    const l = await loadLayerWeights(model.store, c, il);
    if (l.ffn.kind !== 'dense') throw new Error('the roofline wants a dense model');
    ws.push(l.wq, l.wk, l.wv, l.wo, l.ffn.gate, l.ffn.up, l.ffn.down);
  }
  ws.push((await loadTailWeights(model.store, c)).output);
  const k = await createWasmKernels({ threads });
  try {
    const widest = Math.max(...ws.map((w) => Math.max(w.rows, w.cols)));
    const x = new Float32Array(prefillTokens * widest).map((_, i) => Math.sin(i) * 0.5);
    const out = new Float32Array(prefillTokens * widest);
    const run = (n: number) => () => {
      for (const w of ws) k.matmul(out, x, w, n);
    };
    const dec = timeIt(run(1), 1);
    const pre = timeIt(run(prefillTokens), 1) / prefillTokens;
    const weightBytes = ws.reduce((s, w) => s + w.data.byteLength, 0);
    return { weightBytes, decode: 1 / dec, prefill: 1 / pre, decodeGBs: weightBytes / dec / 1e9 };
  } finally {
    k.dispose();
  }
}
