// A mixture-of-experts feed-forward on WebGPU, in two steps around one readback: the router's logits
// (and qwen2moe's shared-expert gate) come back to the host, which picks each token's experts
// (moe-routing.ts); then only the chosen experts run, each over the compact batch of its tokens,
// and their weighted outputs are added to the residual stream in the reference's order.
//
// The readback costs one GPU round trip per MoE layer per batch (decode: per token), the price of
// routing on the host: exact (the reference's own softmax and tie rule), simple, and separable for
// expert groups spread over peers later. Only the selected experts' weights are read by the GPU.
import type { ModelConfig } from '../config.ts';
import type { GpuContext } from './gpu-context.ts';
import type { GpuDenseFfn, GpuMoeFfn } from './gpu-weights.ts';
import { packRouting, routeTokens, sharedExpertWeights } from './moe-routing.ts';
import type { Ops } from './ops.ts';

/** Buffers of one batch of `cap` tokens: the FFN's input xn and scratch of width ff are the stage's. */
export class MoeScratch {
  readonly xg: GPUBuffer;
  readonly yg: GPUBuffer;
  readonly out: GPUBuffer;
  readonly logits: GPUBuffer;
  readonly sharedGate: GPUBuffer;
  readonly routing: GPUBuffer;

  constructor(ctx: GpuContext, c: ModelConfig, cap: number) {
    this.xg = ctx.storage('moe.xg', cap * c.nEmbd * 4);
    this.yg = ctx.storage('moe.yg', cap * c.nEmbd * 4);
    this.out = ctx.storage('moe.out', cap * c.nEmbd * 4);
    this.logits = ctx.storage('moe.logits', cap * c.nExpert * 4);
    this.sharedGate = ctx.storage('moe.shared_gate', cap * 4);
    this.routing = ctx.storage('moe.routing', 2 * cap * (c.nExpertUsed + 1) * 4); // every slot, plus the shared expert
  }

  destroy(): void {
    for (const b of [this.xg, this.yg, this.out, this.logits, this.sharedGate, this.routing]) b.destroy();
  }
}

/** FFN work buffers the stage owns: the normed input and gate/up of the widest FFN. */
export interface FfnBuffers {
  readonly x: GPUBuffer;
  readonly xn: GPUBuffer;
  readonly gate: GPUBuffer;
  readonly up: GPUBuffer;
}

/** SwiGLU FFN of `n` rows of `input`, its output into `out` (added to it when accumulating). */
export function encodeDenseFfn(ops: Ops, f: GpuDenseFfn, b: FfnBuffers, input: GPUBuffer, out: GPUBuffer, n: number, accumulate: boolean): void {
  ops.matmul(f.gate, input, b.gate, n);
  ops.matmul(f.up, input, b.up, n);
  ops.swiglu(b.gate, b.up, n * f.gate.rows);
  ops.matmul(f.down, b.gate, out, n, accumulate);
}

/** Step 1: the router (and shared-expert gate) over xn; returns what to read back. */
export function encodeRouter(ops: Ops, f: GpuMoeFfn, b: FfnBuffers, m: MoeScratch, c: ModelConfig, n: number): [GPUBuffer, number][] {
  ops.matmul(f.router, b.xn, m.logits, n);
  const reads: [GPUBuffer, number][] = [[m.logits, n * c.nExpert * 4]];
  if (f.shared) {
    ops.matmul(f.shared.gate, b.xn, m.sharedGate, n);
    reads.push([m.sharedGate, n * 4]);
  }
  return reads;
}

/**
 * Step 2, given the read-back logits: each (slot, expert) group gathers its tokens' rows, runs the
 * expert and scatters the weighted result (slot 0 stores, later slots and the shared expert add),
 * then x += the mix, as layer.ts sums it.
 */
export function encodeExperts(
  ops: Ops,
  f: GpuMoeFfn,
  b: FfnBuffers,
  m: MoeScratch,
  c: ModelConfig,
  n: number,
  logits: Float32Array,
  sharedLogits?: Float32Array,
): void {
  const groups: { expert?: number; slot: number; tokens: readonly number[]; weights: readonly number[] }[] = routeTokens(logits, n, c);
  if (f.shared && sharedLogits) {
    groups.push({ slot: c.nExpertUsed, tokens: Array.from({ length: n }, (_, t) => t), weights: sharedExpertWeights(sharedLogits, n) });
  }
  const { data, offsets } = packRouting(groups);
  ops.r.upload(m.routing, data);
  groups.forEach((g, i) => {
    const ffn = g.expert === undefined ? f.shared!.ffn : f.experts[g.expert];
    const rows = g.tokens.length;
    ops.gather(m.routing, b.xn, m.xg, rows, c.nEmbd, offsets[i].idx);
    encodeDenseFfn(ops, ffn, b, m.xg, m.yg, rows, false);
    ops.scatter(m.routing, m.yg, m.out, rows, c.nEmbd, offsets[i], g.slot > 0);
  });
  ops.add(b.x, m.out, n * c.nEmbd);
}
