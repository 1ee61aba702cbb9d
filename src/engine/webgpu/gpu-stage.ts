// A stage (layers first..end) on WebGPU: weights uploaded once, a GPU KV cache per session, and each
// batch encoded as one command submission (plus one per mixture-of-experts layer, whose router logits
// come back for routing); only the batch's hidden states cross the bus, in and out.
import type { RopeParams } from '../../kernels/types.ts';
import { ropeCache } from '../../kernels/reference/rope.ts';
import { ATTENTION_MAX_HEAD_DIM } from '../../kernels/wgsl/index.ts';
import type { ModelConfig } from '../config.ts';
import { EngineError } from '../errors.ts';
import type { ModelFile } from '../model.ts';
import type { Stage, StageSession } from '../stage.ts';
import { loadLayerWeights } from '../weights.ts';
import { WebGpuError } from './errors.ts';
import type { GpuContext } from './gpu-context.ts';
import { GpuKvCache } from './gpu-kv-cache.ts';
import { destroyLayer, layerMatrices, uploadLayer, type GpuLayer } from './gpu-weights.ts';
import { encodeDenseFfn, encodeExperts, encodeRouter, MoeScratch } from './gpu-moe.ts';
import { Ops, preparePipelines } from './ops.ts';

/** Activation buffers for `cap` tokens, shared by a stage's sessions (the GPU queue runs one forward at a time). */
class Scratch {
  cap = 0;
  x!: GPUBuffer;
  xn!: GPUBuffer;
  rounded!: GPUBuffer;
  q!: GPUBuffer;
  k!: GPUBuffer;
  v!: GPUBuffer;
  attn!: GPUBuffer;
  gate!: GPUBuffer;
  up!: GPUBuffer;
  cosSin!: GPUBuffer;
  moe: MoeScratch | undefined;
  readonly dummy: GPUBuffer;
  private readonly ctx: GpuContext;
  private readonly c: ModelConfig;

  constructor(ctx: GpuContext, c: ModelConfig) {
    this.ctx = ctx;
    this.c = c;
    this.dummy = ctx.storage('dummy', 16);
  }

  ensure(n: number): void {
    if (n <= this.cap) return;
    this.destroy();
    const c = this.c,
      s = (label: string, width: number) => this.ctx.storage(label, n * width * 4);
    const qDim = c.nHead * c.headDim,
      kvDim = c.nHeadKv * c.headDim;
    const ff = Math.max(c.nFf, c.nExpert > 0 ? c.nFfExp : 0, c.nFfShexp); // the widest FFN: dense, an expert or the shared one
    this.x = s('x', c.nEmbd);
    this.xn = s('xn', c.nEmbd);
    this.rounded = s('rounded', Math.max(c.nEmbd, qDim, ff));
    this.q = s('q', qDim);
    this.k = s('k', kvDim);
    this.v = s('v', kvDim);
    this.attn = s('attn', qDim);
    this.gate = s('gate', ff);
    this.up = s('up', ff);
    this.cosSin = s('cos_sin', c.rope.nRot);
    this.moe = c.nExpert > 0 ? new MoeScratch(this.ctx, c, n) : undefined;
    this.cap = n;
  }

  destroy(): void {
    if (this.cap === 0) return;
    for (const b of [this.x, this.xn, this.rounded, this.q, this.k, this.v, this.attn, this.gate, this.up, this.cosSin]) b.destroy();
    this.moe?.destroy();
    this.cap = 0;
  }
}

/** The cos/sin table of positions pos0..pos0+n-1, computed exactly as the reference does. */
function ropeTable(p: RopeParams, pos0: number, n: number): Float32Array {
  const out = new Float32Array(n * p.nRot);
  for (let t = 0; t < n; t++) ropeCache(pos0 + t, p, out.subarray(t * p.nRot, (t + 1) * p.nRot));
  return out;
}

function encodeAttention(ops: Ops, c: ModelConfig, w: GpuLayer, s: Scratch, kv: GpuKvCache, layer: number, n: number, pos0: number): void {
  const qDim = c.nHead * c.headDim,
    kvDim = c.nHeadKv * c.headDim;
  ops.rmsnorm(s.x, w.attnNorm, s.xn, n, c.nEmbd, c.normEps);
  ops.matmul(w.wq, s.xn, s.q, n);
  ops.matmul(w.wk, s.xn, s.k, n);
  ops.matmul(w.wv, s.xn, s.v, n);
  if (w.bq) ops.addBias(s.q, w.bq, n, qDim);
  if (w.bk) ops.addBias(s.k, w.bk, n, kvDim);
  if (w.bv) ops.addBias(s.v, w.bv, n, kvDim);
  if (w.qNorm) ops.rmsnorm(s.q, w.qNorm, null, n * c.nHead, c.headDim, c.normEps);
  if (w.kNorm) ops.rmsnorm(s.k, w.kNorm, null, n * c.nHeadKv, c.headDim, c.normEps);
  const neox = c.rope.mode === 'neox';
  ops.rope(s.q, s.cosSin, n, c.nHead, c.headDim, c.rope.nRot, neox);
  ops.rope(s.k, s.cosSin, n, c.nHeadKv, c.headDim, c.rope.nRot, neox);
  ops.storeKv(s.k, s.v, kv.k[layer], kv.v[layer], n * kvDim, pos0 * kvDim, kv.precision === 'f16', kv.f16Storage);
  ops.attention(s.q, kv.k[layer], kv.v[layer], s.attn, {
    nTokens: n,
    pos0,
    nHead: c.nHead,
    nHeadKv: c.nHeadKv,
    headDim: c.headDim,
    scale: c.attnScale,
    f16Cache: kv.precision === 'f16',
    f16Storage: kv.f16Storage,
  });
  ops.matmul(w.wo, s.attn, s.x, n, true);
  if (w.bo) ops.addBias(s.x, w.bo, n, c.nEmbd);
}

/**
 * Records the stage's layers for one batch. A dense model is one submission; a mixture-of-experts
 * layer submits what is recorded so far with its router, reads the logits back, and goes on in a
 * new submission with the chosen experts. Returns the Ops holding the rest, still to be run.
 */
async function encodeLayers(
  ctx: GpuContext,
  c: ModelConfig,
  layers: readonly GpuLayer[],
  s: Scratch,
  kv: GpuKvCache,
  n: number,
  pos0: number,
  ops: Ops,
): Promise<Ops> {
  for (let i = 0; i < layers.length; i++) {
    const w = layers[i];
    encodeAttention(ops, c, w, s, kv, i, n, pos0);
    ops.rmsnorm(s.x, w.ffnNorm, s.xn, n, c.nEmbd, c.normEps);
    if (w.ffn.kind === 'dense') {
      encodeDenseFfn(ops, w.ffn, s, s.xn, s.x, n, true);
      continue;
    }
    const [logits, sharedLogits] = await ops.r.runReading(encodeRouter(ops, w.ffn, s, s.moe!, c, n));
    ops = new Ops(ctx.recorder(), s.rounded, s.dummy);
    encodeExperts(ops, w.ffn, s, s.moe!, c, n, logits, sharedLogits);
  }
  return ops;
}

export interface WebGpuStage extends Stage {
  /** Releases the stage's GPU buffers; its sessions cannot be used afterwards. */
  destroy(): void;
}

export async function createWebGpuStage(ctx: GpuContext, model: ModelFile, first: number, end: number): Promise<WebGpuStage> {
  const c = model.config;
  if (c.headDim > ATTENTION_MAX_HEAD_DIM) {
    throw new WebGpuError(
      'webgpu_unsupported_model',
      `head width ${c.headDim} is above the WebGPU attention kernel's ${ATTENTION_MAX_HEAD_DIM}; use the "cpu" backend`,
    );
  }
  const layers: GpuLayer[] = [];
  let ropeFreqs: Float32Array | undefined;
  try {
    for (let il = first; il < end; il++) {
      const w = await loadLayerWeights(model.store, c, il); // host copies are dropped after upload
      ropeFreqs ??= w.ropeFreqs;
      layers.push(uploadLayer(ctx, w));
    }
    await preparePipelines(ctx, layers.flatMap(layerMatrices));
  } catch (e) {
    layers.forEach(destroyLayer);
    throw e;
  }
  const rope: RopeParams = ropeFreqs ? { ...c.rope, freqFactors: ropeFreqs } : c.rope;
  const scratch = new Scratch(ctx, c);
  // Sessions share the scratch buffers, and a mixture-of-experts batch awaits a readback halfway:
  // batches of a stage run one after another.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(job: () => Promise<T>): Promise<T> => {
    const done = queue.then(job);
    queue = done.catch(() => undefined);
    return done;
  };

  return {
    first,
    end,
    createSession(sopts = {}): StageSession {
      const kv = new GpuKvCache(ctx, layers.length, c.nHeadKv * c.headDim, sopts.maxPositions ?? c.nCtxTrain, sopts.kvPrecision ?? 'f32');
      return {
        get length() {
          return kv.length;
        },
        async extend(hidden, nTokens) {
          if (!(Number.isInteger(nTokens) && nTokens > 0) || hidden.length !== nTokens * c.nEmbd) {
            throw new EngineError('engine_bad_input', `stage ${first}..${end} got ${hidden.length} values for ${nTokens} tokens of width ${c.nEmbd}`);
          }
          return serial(async () => {
            kv.reserve(nTokens);
            scratch.ensure(nTokens);
            const pos0 = kv.length;
            const ops = new Ops(ctx.recorder(), scratch.rounded, scratch.dummy);
            ops.r.upload(scratch.x, hidden);
            ops.r.upload(scratch.cosSin, ropeTable(rope, pos0, nTokens));
            const last = await encodeLayers(ctx, c, layers, scratch, kv, nTokens, pos0, ops);
            const out = await last.r.run(scratch.x, nTokens * c.nEmbd * 4);
            kv.commit(nTokens);
            return out!;
          });
        },
        truncate(length) {
          kv.truncate(length);
        },
        free() {
          kv.free();
        },
      };
    },
    destroy() {
      layers.forEach(destroyLayer);
      scratch.destroy();
      scratch.dummy.destroy();
    },
  };
}
