// Runs in the test page (imported through Vite): the WebGPU engine against the reference kernels in
// the same page and against llama.cpp's teacher-forced top-5 log-probs passed in from the test.
import { urlSource } from '../../src/gguf/byte-source.ts';
import { Engine } from '../../src/engine/engine.ts';
import { logSoftmax } from '../../src/engine/logprobs.ts';
import { openModel } from '../../src/engine/model.ts';
import { openHead } from '../../src/engine/head.ts';
import { openStage } from '../../src/engine/stage.ts';
import { sharedWebGpuBackend } from '../../src/engine/webgpu/index.ts';

export interface PageReference {
  readonly promptTokens: number[];
  readonly positions: { id: number; logprob: number }[][];
}

export interface WebGpuParity {
  readonly adapter: string;
  /** Per prompt position, the largest |ours − llama.cpp| over llama.cpp's top 5: whole model, and split 0:1,1:2. */
  readonly wholeVsLlama: number[];
  readonly splitVsLlama: number[];
  /** Positions where llama.cpp's top-1 leads by > 0.05 but our argmax differs. */
  readonly argmaxMisses: number[];
  /** The same comparison for the reference kernels run in this page (what the GPU should match). */
  readonly referenceVsLlama: number[];
  /** Largest |Δ logprob| between the GPU and the reference kernels, over llama.cpp's top-5 ids. */
  readonly gpuVsReference: number;
  /** Largest |Δ| of the whole stage's output hidden states, relative to their largest magnitude. */
  readonly stageVsReference: number;
  /** Largest |Δ logit| between decoding one token at a time and one prefill batch. */
  readonly decodeVsBatch: number;
  /** Largest |Δ logit| after truncating to 4 tokens and extending again, against the batch. */
  readonly afterTruncate: number;
  readonly ms: { load: number; prefill: number; decodePerToken: number; reference: number };
}

function worstPerPosition(logits: Float32Array, nVocab: number, ref: PageReference): { worst: number[]; misses: number[] } {
  const misses: number[] = [];
  const worst = ref.positions.map((top, i) => {
    const lp = logSoftmax(logits, i * nVocab, nVocab);
    let best = 0;
    for (let j = 1; j < nVocab; j++) if (lp[j] > lp[best]) best = j;
    if (top[0].logprob - top[1].logprob > 0.05 && best !== top[0].id) misses.push(i);
    return Math.max(...top.map((t) => Math.abs(lp[t.id] - t.logprob)));
  });
  return { worst, misses };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function allLogits(engine: Engine, tokens: number[]): Promise<Float32Array> {
  const s = engine.createSession();
  try {
    return await s.extend(tokens, { logits: 'all' });
  } finally {
    s.free();
  }
}

export async function webgpuParity(url: string, ref: PageReference): Promise<WebGpuParity> {
  const tokens = ref.promptTokens;
  let t0 = performance.now();
  const gpu = await Engine.load(url, { backend: 'webgpu' });
  const load = performance.now() - t0;
  const nVocab = gpu.config.nVocab, nLayer = gpu.config.nLayer;

  t0 = performance.now();
  const whole = await allLogits(gpu, tokens);
  const prefill = performance.now() - t0;
  const wholeCmp = worstPerPosition(whole, nVocab, ref);

  const half = Math.max(1, Math.floor(nLayer / 2));
  const split = await Engine.load(url, { backend: 'webgpu', split: `0:${half},${half}:${nLayer}` });
  const splitCmp = worstPerPosition(await allLogits(split, tokens), nVocab, ref);

  t0 = performance.now();
  const cpu = await Engine.load(url, { backend: 'ref' });
  const refLogits = await allLogits(cpu, tokens);
  const reference = performance.now() - t0;
  const refCmp = worstPerPosition(refLogits, nVocab, ref);
  let gpuVsReference = 0;
  ref.positions.forEach((top, i) => {
    const a = logSoftmax(whole, i * nVocab, nVocab), b = logSoftmax(refLogits, i * nVocab, nVocab);
    for (const t of top) gpuVsReference = Math.max(gpuVsReference, Math.abs(a[t.id] - b[t.id]));
  });

  // Decode: 4 tokens as a batch, then 4 one at a time, against the rows of the one-batch prefill.
  const s = gpu.createSession();
  let decodeVsBatch = maxAbsDiff(await s.extend(tokens.slice(0, 4)), whole.subarray(0, 4 * nVocab));
  t0 = performance.now();
  for (let i = 4; i < 8; i++) {
    decodeVsBatch = Math.max(decodeVsBatch, maxAbsDiff(await s.extend([tokens[i]]), whole.subarray(i * nVocab, (i + 1) * nVocab)));
  }
  const decodePerToken = (performance.now() - t0) / 4;
  s.truncate(4);
  const again = await s.extend(tokens.slice(4, 8));
  const afterTruncate = maxAbsDiff(again, whole.subarray(4 * nVocab, 8 * nVocab));
  s.free();

  // One stage over every layer, GPU against the reference kernels, on the same embedded input.
  const model = await openModel(await urlSource(url));
  const hidden = await (await openHead(model)).embed(tokens);
  const backend = await sharedWebGpuBackend();
  const gpuOut = await (await backend.openStage(model, 0, nLayer)).createSession().extend(hidden, tokens.length);
  const refOut = await (await openStage(model, 0, nLayer)).createSession().extend(hidden, tokens.length);
  let scale = 0;
  for (const v of refOut) scale = Math.max(scale, Math.abs(v));
  const stageVsReference = maxAbsDiff(gpuOut, refOut) / scale;

  return {
    adapter: backend.info.description + (backend.info.fallback ? ' (fallback adapter)' : ''),
    wholeVsLlama: wholeCmp.worst, splitVsLlama: splitCmp.worst, argmaxMisses: [...wholeCmp.misses, ...splitCmp.misses],
    referenceVsLlama: refCmp.worst, gpuVsReference, stageVsReference, decodeVsBatch, afterTruncate,
    ms: { load, prefill, decodePerToken, reference },
  };
}

export interface MatmulCheck {
  readonly type: number;
  readonly threadsPerRow: number;
  readonly n: number;
  /** Largest |gpu − reference| / (|reference| + 1). */
  readonly error: number;
}

/**
 * The WGSL matmul of every weight type against the reference kernels, for decode (n = 1) and a batch
 * spanning two token groups, with one thread per row (SwiftShader's choice) and 64 (a real GPU's).
 * The batch call accumulates into its output, as the residual projections do.
 */
export async function webgpuMatmulChecks(): Promise<MatmulCheck[]> {
  const { referenceKernels } = await import('../../src/kernels/reference/index.ts');
  const { quantizedWeight, randomArray } = await import('../../src/kernels/testing.ts');
  const { uploadMatrix } = await import('../../src/engine/webgpu/gpu-weights.ts');
  const { Ops, preparePipelines } = await import('../../src/engine/webgpu/ops.ts');
  const { WGSL_WEIGHT_TYPES } = await import('../../src/kernels/wgsl/index.ts');
  const ctx = (await sharedWebGpuBackend()).context;
  const rows = 37, cols = 512;
  const out: MatmulCheck[] = [];
  for (const type of WGSL_WEIGHT_TYPES) {
    const w = quantizedWeight('w', type, rows, cols, randomArray(type + 1, rows * cols));
    for (const tpr of [1, 64]) {
      const gw = uploadMatrix(ctx, w, tpr);
      await preparePipelines(ctx, [gw]);
      for (const n of [1, 11]) {
        const x = randomArray(type + 100 + n, n * cols);
        const base = randomArray(type + 200 + n, n * rows);
        const accumulate = n > 1;
        const want = new Float32Array(n * rows);
        referenceKernels.matmul(want, x, w, n);
        if (accumulate) for (let i = 0; i < want.length; i++) want[i] += base[i];
        const xb = ctx.storage('x', x.byteLength), yb = ctx.storage('y', n * rows * 4);
        const ops = new Ops(ctx.recorder(), ctx.storage('rounded', x.byteLength), ctx.storage('dummy', 16));
        ops.r.upload(xb, x);
        ops.r.upload(yb, base);
        ops.matmul(gw, xb, yb, n, accumulate);
        const got = (await ops.r.run(yb, n * rows * 4))!;
        let error = 0;
        for (let i = 0; i < want.length; i++) error = Math.max(error, Math.abs(got[i] - want[i]) / (Math.abs(want[i]) + 1));
        out.push({ type, threadsPerRow: gw.threadsPerRow, n, error });
        xb.destroy();
        yb.destroy();
      }
      gw.buffer.destroy();
    }
  }
  return out;
}
