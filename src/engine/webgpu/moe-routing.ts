// Expert selection for a batch, on the host: the router's logits (read back from the GPU) become
// groups of tokens per (slot, expert), with each token's mixing weight. Kept apart from the expert
// matmuls so a later mesh can run some experts elsewhere: routing says who computes what, nothing more.
import { softmax } from '../../kernels/reference/elementwise.ts';
import type { ModelConfig } from '../config.ts';

/** The tokens whose `slot`-th choice (0 = most probable) is `expert`, and their mixing weights. */
export interface ExpertGroup {
  readonly slot: number;
  readonly expert: number;
  readonly tokens: readonly number[];
  readonly weights: readonly number[];
}

type RoutingConfig = Pick<ModelConfig, 'nExpert' | 'nExpertUsed' | 'expertWeightsNorm'>;

/**
 * llama.cpp's build_moe_ffn, as src/engine/layer.ts computes it: softmax over every expert's logit,
 * the nExpertUsed most probable (ties to the lower index), weights renormalised to sum to 1 where the
 * architecture does (Mixtral, qwen3moe; not qwen2moe). Groups come slot by slot, so adding their
 * outputs in this order sums each token's experts in the reference's order (bit-identical results).
 */
export function routeTokens(logits: Float32Array, nTokens: number, c: RoutingConfig): ExpertGroup[] {
  const byKey = new Map<number, { tokens: number[]; weights: number[] }>();
  const probs = logits.slice(0, nTokens * c.nExpert);
  for (let t = 0; t < nTokens; t++) {
    softmax(probs, t * c.nExpert, c.nExpert);
    const row = probs.subarray(t * c.nExpert, (t + 1) * c.nExpert);
    const chosen = Array.from(row.keys())
      .sort((a, b) => row[b] - row[a] || a - b)
      .slice(0, c.nExpertUsed);
    // ggml_sum_rows accumulates in double and stores f32; the sum is clamped away from zero (smallest normal f16).
    const total = c.expertWeightsNorm ? Math.max(Math.fround(chosen.reduce((s, e) => s + row[e], 0)), 6.103515625e-5) : 1;
    chosen.forEach((e, slot) => {
      const key = slot * c.nExpert + e;
      let g = byKey.get(key);
      if (!g) byKey.set(key, (g = { tokens: [], weights: [] }));
      g.tokens.push(t);
      g.weights.push(Math.fround(row[e] / total));
    });
  }
  return [...byKey.entries()].sort(([a], [b]) => a - b).map(([key, g]) => ({ slot: Math.floor(key / c.nExpert), expert: key % c.nExpert, ...g }));
}

/** qwen2moe's shared-expert scale per token, sigmoid(g), written as llama.cpp does: silu(g) / g. */
export function sharedExpertWeights(g: Float32Array, nTokens: number): number[] {
  return Array.from(g.subarray(0, nTokens), (v) => Math.fround(Math.fround(v / (1 + Math.exp(-v))) / v));
}

/** Token indices (u32) then weights (f32 bits) of every group, and where each group's lists start. */
export function packRouting(groups: readonly { tokens: readonly number[]; weights: readonly number[] }[]): {
  data: Float32Array;
  offsets: { idx: number; w: number }[];
} {
  const total = groups.reduce((s, g) => s + g.tokens.length, 0);
  const buf = new ArrayBuffer(Math.max(1, 2 * total) * 4);
  const idx = new Uint32Array(buf),
    w = new Float32Array(buf);
  const offsets: { idx: number; w: number }[] = [];
  let at = 0;
  for (const g of groups) {
    offsets.push({ idx: at, w: total + at });
    idx.set(g.tokens, at);
    w.set(g.weights, total + at);
    at += g.tokens.length;
  }
  return { data: w, offsets };
}
