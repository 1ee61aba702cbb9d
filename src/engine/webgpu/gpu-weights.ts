// Uploading weights once: each matrix keeps its ggml bytes (decoded by the matmul shader), norm
// weights and biases go up as f32; a mixture of experts keeps one buffer per expert matrix.
import { ggmlTypeName } from '../../gguf/ggml-types.ts';
import { rowBytes } from '../../kernels/reference/matmul.ts';
import type { WeightMatrix } from '../../kernels/types.ts';
import { matmulThreadsPerRow, roundingMode, WGSL_WEIGHT_TYPES } from '../../kernels/wgsl/index.ts';
import type { DenseFfn, LayerWeights, MoeFfn, TailWeights } from '../weights.ts';
import { WebGpuError } from './errors.ts';
import type { GpuContext } from './gpu-context.ts';

export interface GpuMatrix {
  readonly name: string;
  readonly buffer: GPUBuffer;
  readonly type: number;
  readonly rows: number;
  readonly cols: number;
  readonly rowBytes: number;
  /** Threads sharing one row in the matmul (a pipeline variant). */
  readonly threadsPerRow: number;
  /** How activations are rounded before the dot product (ggml's vec_dot_type). */
  readonly rounding: number;
}

export interface GpuLayer {
  readonly attnNorm: GPUBuffer;
  readonly wq: GpuMatrix;
  readonly wk: GpuMatrix;
  readonly wv: GpuMatrix;
  readonly wo: GpuMatrix;
  readonly bq?: GPUBuffer;
  readonly bk?: GPUBuffer;
  readonly bv?: GPUBuffer;
  readonly bo?: GPUBuffer;
  readonly qNorm?: GPUBuffer;
  readonly kNorm?: GPUBuffer;
  readonly ffnNorm: GPUBuffer;
  readonly ffn: GpuDenseFfn | GpuMoeFfn;
}

export interface GpuDenseFfn {
  readonly kind: 'dense';
  readonly gate: GpuMatrix;
  readonly up: GpuMatrix;
  readonly down: GpuMatrix;
}

/** One buffer per expert's matrix: the matmul binds a whole buffer, and a stage may hold only some experts later. */
export interface GpuMoeFfn {
  readonly kind: 'moe';
  readonly router: GpuMatrix;
  readonly experts: readonly GpuDenseFfn[];
  readonly shared?: { readonly ffn: GpuDenseFfn; readonly gate: GpuMatrix };
}

export function matmulKey(m: Pick<GpuMatrix, 'type' | 'threadsPerRow'>): string {
  return `matmul:${m.type}:${m.threadsPerRow}`;
}

/** `threadsPerRow` overrides the context's choice (tests cover both the serial and the reduced row). */
export function uploadMatrix(ctx: GpuContext, w: WeightMatrix, threadsPerRow?: number): GpuMatrix {
  if (!WGSL_WEIGHT_TYPES.includes(w.type)) {
    throw new WebGpuError(
      'webgpu_unsupported_model',
      `weight ${w.name} is ${ggmlTypeName(w.type)}, which the WebGPU backend cannot decode yet; use the "cpu" backend`,
    );
  }
  const stride = rowBytes(w);
  const limit = ctx.device.limits.maxStorageBufferBindingSize;
  if (w.rows * stride + 4 > limit) {
    throw new WebGpuError(
      'webgpu_unsupported_model',
      `weight ${w.name} is ${w.rows * stride} bytes, more than this GPU binds at once (${limit}); use the "cpu" backend`,
    );
  }
  return {
    name: w.name,
    buffer: ctx.storage(w.name, w.rows * stride, w.data.subarray(0, w.rows * stride)),
    type: w.type,
    rows: w.rows,
    cols: w.cols,
    rowBytes: stride,
    threadsPerRow: matmulThreadsPerRow(w.cols, threadsPerRow ?? (ctx.software ? 1 : 64)),
    rounding: roundingMode(w.type),
  };
}

function optional(ctx: GpuContext, name: string, v: Float32Array | undefined): GPUBuffer | undefined {
  return v ? ctx.vector(name, v) : undefined;
}

function uploadDense(ctx: GpuContext, f: DenseFfn): GpuDenseFfn {
  return { kind: 'dense', gate: uploadMatrix(ctx, f.gate), up: uploadMatrix(ctx, f.up), down: uploadMatrix(ctx, f.down) };
}

function uploadFfn(ctx: GpuContext, f: DenseFfn | MoeFfn): GpuDenseFfn | GpuMoeFfn {
  if (f.kind === 'dense') return uploadDense(ctx, f);
  return {
    kind: 'moe',
    router: uploadMatrix(ctx, f.router),
    experts: f.gate.map((gate, e) => uploadDense(ctx, { kind: 'dense', gate, up: f.up[e], down: f.down[e] })),
    shared: f.shared && { ffn: uploadDense(ctx, f.shared.ffn), gate: uploadMatrix(ctx, f.shared.gate) },
  };
}

export function uploadLayer(ctx: GpuContext, w: LayerWeights): GpuLayer {
  const name = (s: string) => `blk.${w.index}.${s}`;
  return {
    attnNorm: ctx.vector(name('attn_norm'), w.attnNorm),
    wq: uploadMatrix(ctx, w.wq),
    wk: uploadMatrix(ctx, w.wk),
    wv: uploadMatrix(ctx, w.wv),
    wo: uploadMatrix(ctx, w.wo),
    bq: optional(ctx, name('bq'), w.bq),
    bk: optional(ctx, name('bk'), w.bk),
    bv: optional(ctx, name('bv'), w.bv),
    bo: optional(ctx, name('bo'), w.bo),
    qNorm: optional(ctx, name('q_norm'), w.qNorm),
    kNorm: optional(ctx, name('k_norm'), w.kNorm),
    ffnNorm: ctx.vector(name('ffn_norm'), w.ffnNorm),
    ffn: uploadFfn(ctx, w.ffn),
  };
}

export interface GpuTailWeights {
  readonly outputNorm: GPUBuffer;
  readonly output: GpuMatrix;
}

export function uploadTail(ctx: GpuContext, w: TailWeights): GpuTailWeights {
  return { outputNorm: ctx.vector('output_norm', w.outputNorm), output: uploadMatrix(ctx, w.output) };
}

const denseMatrices = (f: GpuDenseFfn): GpuMatrix[] => [f.gate, f.up, f.down];

export function layerMatrices(l: GpuLayer): GpuMatrix[] {
  const f = l.ffn;
  const ffn =
    f.kind === 'dense'
      ? denseMatrices(f)
      : [f.router, ...f.experts.flatMap(denseMatrices), ...(f.shared ? [f.shared.gate, ...denseMatrices(f.shared.ffn)] : [])];
  return [l.wq, l.wk, l.wv, l.wo, ...ffn];
}

export function destroyLayer(l: GpuLayer): void {
  const vectors = [l.attnNorm, l.bq, l.bk, l.bv, l.bo, l.qNorm, l.kNorm, l.ffnNorm];
  for (const b of vectors) b?.destroy();
  for (const m of layerMatrices(l)) m.buffer.destroy();
}
