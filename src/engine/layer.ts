// One transformer block over a batch of tokens, written against the kernel interface: the residual
// stream x ([nTokens][nEmbd]) is updated in place, and the batch's keys and values join the cache.
import type { Kernels } from '../kernels/types.ts';
import type { ModelConfig } from './config.ts';
import type { KvCache } from './kv-cache.ts';
import { Scratch } from './scratch.ts';
import type { DenseFfn, LayerWeights, MoeFfn } from './weights.ts';

export interface BlockInput {
  readonly x: Float32Array;
  readonly nTokens: number;
  /** Position of the first token; the batch holds pos0..pos0+nTokens-1. */
  readonly pos0: number;
  /** Index of this layer's slot in the cache (layers are numbered from the stage's first). */
  readonly cacheLayer: number;
  /** Where the block's intermediate arrays live (one per stage, reused by every layer and step). */
  readonly scratch?: Scratch;
}

export function blockForward(k: Kernels, c: ModelConfig, w: LayerWeights, cache: KvCache, input: BlockInput): void {
  const { x, nTokens: n, pos0, cacheLayer } = input;
  const s = input.scratch ?? new Scratch();
  const qDim = c.nHead * c.headDim,
    kvDim = c.nHeadKv * c.headDim;
  const xn = s.get('xn', n * c.nEmbd);

  // Attention: norm, project, (qwen3) per-head norm, rotate, cache, attend, project back.
  k.rmsnorm(xn, x, w.attnNorm, n, c.nEmbd, c.normEps);
  const q = s.get('q', n * qDim),
    kk = s.get('k', n * kvDim),
    v = s.get('v', n * kvDim);
  k.matmul(q, xn, w.wq, n);
  k.matmul(kk, xn, w.wk, n);
  k.matmul(v, xn, w.wv, n);
  if (w.bq) k.addBias(q, w.bq, n, qDim);
  if (w.bk) k.addBias(kk, w.bk, n, kvDim);
  if (w.bv) k.addBias(v, w.bv, n, kvDim);
  if (w.qNorm) k.rmsnorm(q, q, w.qNorm, n * c.nHead, c.headDim, c.normEps);
  if (w.kNorm) k.rmsnorm(kk, kk, w.kNorm, n * c.nHeadKv, c.headDim, c.normEps);
  const positions = new Int32Array(n);
  for (let t = 0; t < n; t++) positions[t] = pos0 + t;
  const rope = w.ropeFreqs ? { ...c.rope, freqFactors: w.ropeFreqs } : c.rope;
  k.rope(q, n, c.nHead, c.headDim, positions, rope);
  k.rope(kk, n, c.nHeadKv, c.headDim, positions, rope);
  cache.write(cacheLayer, pos0, kk, v, n);
  const kv = cache.layers[cacheLayer];
  const attn = s.get('attn', n * qDim);
  k.attention(attn, q, kv.k, kv.v, n, pos0, { nHead: c.nHead, nHeadKv: c.nHeadKv, headDim: c.headDim, scale: c.attnScale });
  const o = s.get('o', n * c.nEmbd);
  k.matmul(o, attn, w.wo, n);
  if (w.bo) k.addBias(o, w.bo, n, c.nEmbd);
  k.add(x, x, o, n * c.nEmbd);

  // Feed-forward: norm, SwiGLU (dense or routed to experts), add back.
  k.rmsnorm(xn, x, w.ffnNorm, n, c.nEmbd, c.normEps);
  const out = w.ffn.kind === 'dense' ? denseFfn(k, c, w.ffn, xn, n, s) : moeFfn(k, c, w.ffn, xn, n);
  k.add(x, x, out, n * c.nEmbd);
}

/** The output lives in `s` (when given) until the next denseFfn with the same scratch. */
function denseFfn(k: Kernels, c: ModelConfig, f: DenseFfn, xn: Float32Array, n: number, s?: Scratch): Float32Array {
  const width = f.gate.rows; // nFf, an expert's nFfExp, or the shared expert's nFfShexp
  const gate = s ? s.get('gate', n * width) : new Float32Array(n * width),
    up = s ? s.get('up', n * width) : new Float32Array(n * width);
  k.matmul(gate, xn, f.gate, n);
  k.matmul(up, xn, f.up, n);
  k.swiglu(gate, gate, up, n * width);
  const out = s ? s.get('ffn', n * c.nEmbd) : new Float32Array(n * c.nEmbd);
  k.matmul(out, gate, f.down, n);
  return out;
}

/**
 * Routed experts as llama.cpp's build_moe_ffn does it: softmax over all experts' router logits, keep
 * the top nExpertUsed, renormalise their weights to sum to 1 where the architecture does (Mixtral,
 * qwen3moe; not qwen2moe), and mix those experts' outputs. qwen2moe then adds its shared expert,
 * scaled per token by sigmoid(gate · x).
 */
function moeFfn(k: Kernels, c: ModelConfig, f: MoeFfn, xn: Float32Array, n: number): Float32Array {
  const probs = new Float32Array(n * c.nExpert);
  k.matmul(probs, xn, f.router, n);
  const out = new Float32Array(n * c.nEmbd);
  const one = new Float32Array(c.nEmbd);
  for (let t = 0; t < n; t++) {
    k.softmax(probs, t * c.nExpert, c.nExpert);
    const row = probs.subarray(t * c.nExpert, (t + 1) * c.nExpert);
    // Highest probability first; ties go to the lower expert index.
    const chosen = Array.from(row.keys())
      .sort((a, b) => row[b] - row[a] || a - b)
      .slice(0, c.nExpertUsed);
    // ggml_sum_rows accumulates in double and stores f32; the sum is clamped away from zero (smallest normal f16).
    const total = c.expertWeightsNorm ? Math.max(Math.fround(chosen.reduce((s, e) => s + row[e], 0)), 6.103515625e-5) : 1;
    const xt = xn.subarray(t * c.nEmbd, (t + 1) * c.nEmbd);
    for (const e of chosen) {
      const y = denseFfn(k, c, { kind: 'dense', gate: f.gate[e], up: f.up[e], down: f.down[e] }, xt, 1);
      const weight = Math.fround(row[e] / total);
      for (let i = 0; i < c.nEmbd; i++) one[i] = y[i] * weight;
      k.add(out.subarray(t * c.nEmbd), out.subarray(t * c.nEmbd), one, c.nEmbd);
    }
  }
  if (f.shared) {
    const y = denseFfn(k, c, f.shared.ffn, xn, n);
    const g = new Float32Array(n);
    k.matmul(g, xn, f.shared.gate, n);
    for (let t = 0; t < n; t++) {
      // llama.cpp writes the sigmoid as silu(g) / g; the same two roundings keep us bit-close.
      const gate = Math.fround(Math.fround(g[t] / (1 + Math.exp(-g[t]))) / g[t]);
      const yt = y.subarray(t * c.nEmbd, (t + 1) * c.nEmbd);
      for (let i = 0; i < c.nEmbd; i++) yt[i] = yt[i] * gate;
    }
    k.add(out, out, y, n * c.nEmbd);
  }
  return out;
}
