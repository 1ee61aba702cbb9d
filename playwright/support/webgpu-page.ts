// Runs in the test page (imported through Vite): the WebGPU engine against the reference kernels in
// the same page and against llama.cpp's teacher-forced top-5 log-probs passed in from the test.
import { urlSource } from '../../src/gguf/byte-source.ts';
import { Engine } from '../../src/engine/engine.ts';
import { logSoftmax } from '../../src/engine/logprobs.ts';
import { openModel } from '../../src/engine/model.ts';
import { openHead } from '../../src/engine/head.ts';
import { openStage } from '../../src/engine/stage.ts';
import { openTail } from '../../src/engine/tail.ts';
import { sharedWebGpuBackend } from '../../src/engine/webgpu/index.ts';
import type { WebGpuStage } from '../../src/engine/webgpu/gpu-stage.ts';

export interface PageReference {
  readonly promptTokens: number[];
  readonly positions: { id: number; logprob: number }[][];
}

export interface WebGpuParity {
  readonly adapter: string;
  /** Per prompt position, the largest |ours − llama.cpp| over llama.cpp's top 5, for the whole model. */
  readonly wholeVsLlama: number[];
  /** The same for each split (as asked, e.g. "0:1,1:2"). */
  readonly splits: { readonly split: string; readonly vsLlama: number[] }[];
  /** Largest |Δ logit| between any split and the whole model, or the first split without it (stages hand hidden states over exactly: 0). */
  readonly splitVsWhole: number;
  /** Positions where llama.cpp's top-1 leads by > 0.05 but our argmax differs (whole or any split). */
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
  /**
   * Largest |Δ logit| of two sessions extended at once (their batches interleave in the stages, which
   * share scratch buffers and, with experts, await a readback halfway), against the batch.
   */
  readonly concurrent: number;
  readonly ms: { load: number; prefill: number; decodePerToken: number; splits: number; reference: number; total: number };
}

export interface ParityOptions {
  /** Layer splits to run besides the whole model, e.g. ["0:1,1:2"]. */
  readonly splits: readonly string[];
  /** Also run the unsplit model (as one GPU stage); default true. */
  readonly whole?: boolean;
  /** Also compare against the reference kernels in the page (needs whole; skipped for the largest model: minutes of scalar code). */
  readonly reference?: boolean;
  /** Also check decoding one token at a time and truncation. */
  readonly decode?: boolean;
}

function worstPerPosition(logits: Float32Array, nVocab: number, ref: PageReference, misses: number[]): number[] {
  return ref.positions.map((top, i) => {
    const lp = logSoftmax(logits, i * nVocab, nVocab);
    let best = 0;
    for (let j = 1; j < nVocab; j++) if (lp[j] > lp[best]) best = j;
    if (top[0].logprob - top[1].logprob > 0.05 && best !== top[0].id) misses.push(i);
    return Math.max(...top.map((t) => Math.abs(lp[t.id] - t.logprob)));
  });
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

export async function webgpuParity(url: string, ref: PageReference, opts: ParityOptions): Promise<WebGpuParity> {
  const tokens = ref.promptTokens,
    n = tokens.length;
  const start = performance.now();
  const backend = await sharedWebGpuBackend();

  // Whole: head, one GPU stage over every layer, GPU tail; the stage's output is kept for the
  // comparison with the reference kernels below.
  let t0 = start;
  const model = await openModel(await urlSource(url));
  const { nVocab, nLayer } = model.config;
  const hidden = await (await openHead(model)).embed(tokens);
  let gpuOut: Float32Array | undefined,
    whole: Float32Array | undefined,
    load = NaN,
    prefill = NaN;
  const argmaxMisses: number[] = [];
  let wholeVsLlama: number[] = [];
  if (opts.whole !== false) {
    const gpuStage = (await backend.openStage(model, 0, nLayer)) as WebGpuStage;
    const gpuTail = await backend.openTail(model);
    load = performance.now() - t0;
    t0 = performance.now();
    gpuOut = await gpuStage.createSession().extend(hidden, n);
    whole = await gpuTail.logits(gpuOut, n);
    prefill = performance.now() - t0;
    gpuStage.destroy();
    wholeVsLlama = worstPerPosition(whole, nVocab, ref, argmaxMisses);
  }

  // Splits through the Engine facade, as the app and the mesh run them; the first one also decodes.
  const s0 = performance.now();
  const splits: { split: string; vsLlama: number[] }[] = [];
  let splitVsWhole = 0,
    decodeVsBatch = NaN,
    afterTruncate = NaN,
    concurrent = NaN,
    decodePerToken = NaN,
    decodeMs = 0;
  for (const split of opts.splits) {
    const engine = await Engine.load(url, { backend: 'webgpu', split });
    try {
      const logits = await allLogits(engine, tokens);
      splits.push({ split, vsLlama: worstPerPosition(logits, nVocab, ref, argmaxMisses) });
      // Without the whole run, later splits are held to the first one.
      if (whole) splitVsWhole = Math.max(splitVsWhole, maxAbsDiff(logits, whole));
      else whole = logits;
      if (opts.decode !== false && Number.isNaN(decodeVsBatch)) {
        // 4 tokens as a batch, then 4 one at a time, against the rows of the one-batch prefill.
        const d0 = performance.now();
        const s = engine.createSession();
        decodeVsBatch = maxAbsDiff(await s.extend(tokens.slice(0, 4)), whole.subarray(0, 4 * nVocab));
        t0 = performance.now();
        for (let i = 4; i < 8; i++) {
          decodeVsBatch = Math.max(decodeVsBatch, maxAbsDiff(await s.extend([tokens[i]]), whole.subarray(i * nVocab, (i + 1) * nVocab)));
        }
        decodePerToken = (performance.now() - t0) / 4;
        s.truncate(4);
        afterTruncate = maxAbsDiff(await s.extend(tokens.slice(4, 8)), whole.subarray(4 * nVocab, 8 * nVocab));
        s.free();
        const pair = [engine.createSession(), engine.createSession()];
        const both = await Promise.all([pair[0].extend(tokens.slice(0, 4)), pair[1].extend(tokens.slice(0, 3))]);
        concurrent = Math.max(maxAbsDiff(both[0], whole.subarray(0, 4 * nVocab)), maxAbsDiff(both[1], whole.subarray(0, 3 * nVocab)));
        for (const p of pair) p.free();
        decodeMs += performance.now() - d0;
      }
    } finally {
      await engine.close();
    }
  }
  const splitMs = performance.now() - s0 - decodeMs;

  // The reference kernels on the same embedded input: the stage's hidden states, then the logits.
  let referenceVsLlama: number[] = [],
    gpuVsReference = NaN,
    stageVsReference = NaN,
    reference = NaN;
  if (opts.reference !== false && gpuOut && whole) {
    t0 = performance.now();
    const refOut = await (await openStage(model, 0, nLayer)).createSession().extend(hidden, n);
    const refLogits = await (await openTail(model)).logits(refOut, n);
    reference = performance.now() - t0;
    let scale = 0;
    for (const v of refOut) scale = Math.max(scale, Math.abs(v));
    stageVsReference = maxAbsDiff(gpuOut, refOut) / scale;
    referenceVsLlama = worstPerPosition(refLogits, nVocab, ref, []);
    gpuVsReference = 0;
    ref.positions.forEach((top, i) => {
      const a = logSoftmax(whole, i * nVocab, nVocab),
        b = logSoftmax(refLogits, i * nVocab, nVocab);
      for (const t of top) gpuVsReference = Math.max(gpuVsReference, Math.abs(a[t.id] - b[t.id]));
    });
  }

  return {
    adapter: backend.info.description + (backend.info.fallback ? ' (fallback adapter)' : ''),
    wholeVsLlama,
    splits,
    splitVsWhole,
    argmaxMisses,
    referenceVsLlama,
    gpuVsReference,
    stageVsReference,
    decodeVsBatch,
    afterTruncate,
    concurrent,
    ms: { load, prefill, decodePerToken, splits: splitMs, reference, total: performance.now() - start },
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
  const { quantizedWeight, randomArray } = await import('../../src/kernels/testing/data.ts');
  const { uploadMatrix } = await import('../../src/engine/webgpu/gpu-weights.ts');
  const { Ops, preparePipelines } = await import('../../src/engine/webgpu/ops.ts');
  const { WGSL_WEIGHT_TYPES } = await import('../../src/kernels/wgsl/index.ts');
  const ctx = (await sharedWebGpuBackend()).context;
  const rows = 37,
    cols = 512;
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
        const xb = ctx.storage('x', x.byteLength),
          yb = ctx.storage('y', n * rows * 4);
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
