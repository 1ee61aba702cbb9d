// Records the kernels of a forward pass into a Recorder with their shapes and params, and knows
// which input buffer already holds activations rounded for a weight type, so q/k/v (and gate/up)
// share one rounding pass as they share one input.
import {
  ADD_BIAS_WGSL,
  ATTENTION_WGSL,
  attentionWgsl,
  MATMUL_GROUP_SIZE,
  MATMUL_TOKENS_PER_GROUP,
  matmulWgsl,
  ROPE_WGSL,
  ROUND_ACTIVATIONS_WGSL,
  ROUND_NONE,
  roundingBlock,
  rmsnormWgsl,
  STORE_KV_F16_WGSL,
  STORE_KV_WGSL,
  SWIGLU_WGSL,
} from '../../kernels/wgsl/index.ts';
import { MOE_GATHER_WGSL, MOE_SCATTER_WGSL } from '../../kernels/wgsl/moe.ts';
import { f32Bits, foldGroups, type GpuContext, type Recorder } from './gpu-context.ts';
import { matmulKey, type GpuMatrix } from './gpu-weights.ts';

/** Compiles every pipeline a stage or tail with these matrices will use. */
export async function preparePipelines(ctx: GpuContext, matrices: readonly GpuMatrix[]): Promise<void> {
  const jobs: Promise<void>[] = [
    ctx.prepare('round', () => ROUND_ACTIVATIONS_WGSL),
    ctx.prepare('rmsnorm', () => rmsnormWgsl(false)),
    ctx.prepare('rmsnorm-inplace', () => rmsnormWgsl(true)),
    ctx.prepare('rope', () => ROPE_WGSL),
    ctx.prepare('attention', () => ATTENTION_WGSL),
    ctx.prepare('swiglu', () => SWIGLU_WGSL),
    ctx.prepare('add-bias', () => ADD_BIAS_WGSL),
    ctx.prepare('store-kv', () => STORE_KV_WGSL),
    ctx.prepare('moe-gather', () => MOE_GATHER_WGSL),
    ctx.prepare('moe-scatter', () => MOE_SCATTER_WGSL),
  ];
  // An f16 KV cache: llama.cpp's F16-cache attention; held as f16 (GpuKvCache.f16Storage) with shader-f16.
  jobs.push(ctx.prepare('attention-f16cache', () => attentionWgsl(true)));
  if (ctx.shaderF16)
    jobs.push(
      ctx.prepare('store-kv-f16', () => STORE_KV_F16_WGSL),
      ctx.prepare('attention-f16', () => attentionWgsl(true, true)),
    );
  for (const m of matrices) jobs.push(ctx.prepare(matmulKey(m), () => matmulWgsl(m.type, m.threadsPerRow)));
  await Promise.all(jobs);
}

const threads = (count: number): [number, number, number] => [...foldGroups(Math.ceil(count / 64)), 1];

export class Ops {
  readonly r: Recorder;
  /** Scratch for rounded activations, at least as large as any matmul input. */
  private readonly rounded: GPUBuffer;
  /** Placeholder for absent optional bindings (a norm without weight). */
  private readonly dummy: GPUBuffer;
  private roundedHolds: { src: GPUBuffer; mode: number } | undefined;

  constructor(r: Recorder, rounded: GPUBuffer, dummy: GPUBuffer) {
    this.r = r;
    this.rounded = rounded;
    this.dummy = dummy;
  }

  /** Call after anything writes `buf`: the rounded copy of it, if any, is stale. */
  private wrote(buf: GPUBuffer): void {
    if (this.roundedHolds?.src === buf) this.roundedHolds = undefined;
  }

  rmsnorm(x: GPUBuffer, weight: GPUBuffer | undefined, y: GPUBuffer | null, rows: number, dim: number, eps: number): void {
    const params = [rows, dim, f32Bits(eps), weight ? 1 : 0, 0, 0];
    const groups: [number, number, number] = [...foldGroups(rows), 1];
    if (y) this.r.dispatch('rmsnorm', [weight ?? this.dummy, x, y], params, groups);
    else this.r.dispatch('rmsnorm-inplace', [weight ?? this.dummy, x], params, groups);
    this.wrote(y ?? x);
  }

  /** y = W·x for n rows of x (y += W·x when accumulating), rounding x first as ggml would. */
  matmul(w: GpuMatrix, x: GPUBuffer, y: GPUBuffer, n: number, accumulate = false): void {
    let input = x;
    if (w.rounding !== ROUND_NONE) {
      if (!(this.roundedHolds?.src === x && this.roundedHolds.mode === w.rounding)) {
        const count = n * w.cols;
        const [gx, gy] = foldGroups(Math.ceil(count / roundingBlock(w.rounding) / 64));
        this.r.dispatch('round', [x, this.rounded], [w.rounding, count, gx], [gx, gy, 1]);
        this.roundedHolds = { src: x, mode: w.rounding };
      }
      input = this.rounded;
    }
    const rowsPerGroup = MATMUL_GROUP_SIZE / w.threadsPerRow;
    const [gx, gy] = foldGroups(Math.ceil(w.rows / rowsPerGroup));
    this.r.dispatch(
      matmulKey(w),
      [w.buffer, input, y],
      [w.rows, w.cols, n, w.rowBytes, accumulate ? 1 : 0, gx, 0, 0],
      [gx, gy, Math.ceil(n / MATMUL_TOKENS_PER_GROUP)],
    );
    this.wrote(y);
  }

  addBias(x: GPUBuffer, bias: GPUBuffer, rows: number, dim: number): void {
    this.r.dispatch('add-bias', [bias, x], [rows, dim, 0], threads(rows * dim));
    this.wrote(x);
  }

  rope(x: GPUBuffer, cosSin: GPUBuffer, nTokens: number, nHeads: number, headDim: number, nRot: number, neox: boolean): void {
    this.r.dispatch('rope', [cosSin, x], [nTokens, nHeads, headDim, nRot, neox ? 1 : 0, 0], threads((nTokens * nHeads * nRot) / 2));
    this.wrote(x);
  }

  /** f16Storage: kc and vc are f16 buffers (an f16 cache on a shader-f16 device). */
  storeKv(k: GPUBuffer, v: GPUBuffer, kc: GPUBuffer, vc: GPUBuffer, len: number, dstOffset: number, f16: boolean, f16Storage = false): void {
    this.r.dispatch(f16Storage ? 'store-kv-f16' : 'store-kv', [k, v, kc, vc], [len, dstOffset, f16 ? 1 : 0], threads(len));
  }

  attention(
    q: GPUBuffer,
    kc: GPUBuffer,
    vc: GPUBuffer,
    out: GPUBuffer,
    s: { nTokens: number; pos0: number; nHead: number; nHeadKv: number; headDim: number; scale: number; f16Cache?: boolean; f16Storage?: boolean },
  ): void {
    const key = s.f16Storage ? 'attention-f16' : s.f16Cache ? 'attention-f16cache' : 'attention';
    this.r.dispatch(key, [q, kc, vc, out], [s.nTokens, s.pos0, s.nHead, s.nHeadKv, s.headDim, f32Bits(s.scale), 0, 0], [s.nHead, s.nTokens, 1]);
    this.wrote(out);
  }

  swiglu(gate: GPUBuffer, up: GPUBuffer, len: number): void {
    this.r.dispatch('swiglu', [up, gate], [len], threads(len));
    this.wrote(gate);
  }

  /** x += y over len values (an elementwise add, as the bias add over one row of len). */
  add(x: GPUBuffer, y: GPUBuffer, len: number): void {
    this.addBias(x, y, 1, len);
  }

  /** xg[j] = x[routing idx[idxOff + j]] for j < rows: the rows of the tokens one expert takes. */
  gather(routing: GPUBuffer, x: GPUBuffer, xg: GPUBuffer, rows: number, dim: number, idxOff: number): void {
    this.r.dispatch('moe-gather', [routing, x, xg], [rows, dim, idxOff], threads(rows * dim));
    this.wrote(xg);
  }

  /** out[idx[j]] (+)= y[j] · w[j] for j < rows: an expert's outputs back to their tokens, weighted. */
  scatter(routing: GPUBuffer, y: GPUBuffer, out: GPUBuffer, rows: number, dim: number, off: { idx: number; w: number }, accumulate: boolean): void {
    this.r.dispatch('moe-scatter', [routing, y, out], [rows, dim, off.idx, off.w, accumulate ? 1 : 0], threads(rows * dim));
    this.wrote(out);
  }
}
