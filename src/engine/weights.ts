// Loads the tensors a part of the model needs (the head, a layer range, the tail) from a ByteSource,
// so a peer running layers 8..16 of a remote model fetches only those layers' bytes.
import { ggmlTypeName, SUPPORTED_TYPES } from '../gguf/ggml-types.ts';
import { dequantizeRow } from '../gguf/quant/index.ts';
import type { ByteSource, GgufHeader, GgufTensorInfo } from '../gguf/reader.ts';
import type { WeightMatrix } from '../kernels/types.ts';
import { hasQkNorm, type ModelConfig } from './config.ts';
import { EngineError } from './errors.ts';

export interface LayerWeights {
  readonly index: number;
  readonly attnNorm: Float32Array;
  readonly wq: WeightMatrix;
  readonly wk: WeightMatrix;
  readonly wv: WeightMatrix;
  readonly wo: WeightMatrix;
  /** qwen2 (and some llamas) add biases to q, k, v; a few llamas to the output too. */
  readonly bq?: Float32Array;
  readonly bk?: Float32Array;
  readonly bv?: Float32Array;
  readonly bo?: Float32Array;
  /** qwen3: RMS norms over each head of q and k, before RoPE. */
  readonly qNorm?: Float32Array;
  readonly kNorm?: Float32Array;
  /** llama3 RoPE frequency factors (rope_freqs.weight), shared by every layer. */
  readonly ropeFreqs?: Float32Array;
  readonly ffnNorm: Float32Array;
  readonly ffn: DenseFfn | MoeFfn;
}

export interface DenseFfn {
  readonly kind: 'dense';
  readonly gate: WeightMatrix;
  readonly up: WeightMatrix;
  readonly down: WeightMatrix;
}

/** Mixtral-style experts: a router picks nExpertUsed of nExpert SwiGLU FFNs per token. */
export interface MoeFfn {
  readonly kind: 'moe';
  readonly router: WeightMatrix;
  readonly gate: readonly WeightMatrix[];
  readonly up: readonly WeightMatrix[];
  readonly down: readonly WeightMatrix[];
  /** qwen2moe: an expert every token goes through, scaled by sigmoid(sharedGate · x). */
  readonly shared?: SharedExpert;
}

export interface SharedExpert {
  readonly ffn: DenseFfn;
  /** ffn_gate_inp_shexp: a 1-D weight, as a one-row matrix. */
  readonly gate: WeightMatrix;
}

export interface HeadWeights {
  readonly tokenEmbd: WeightMatrix;
}

export interface TailWeights {
  readonly outputNorm: Float32Array;
  /** output.weight, or the token embedding when the model ties them. */
  readonly output: WeightMatrix;
}

/** Reads tensors by name from one GGUF, checking shapes against what the engine expects. */
export class WeightStore {
  readonly header: GgufHeader;
  readonly source: ByteSource;
  private readonly byName: Map<string, GgufTensorInfo>;

  constructor(header: GgufHeader, source: ByteSource) {
    this.header = header;
    this.source = source;
    this.byName = new Map(header.tensors.map((t) => [t.name, t]));
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  info(name: string): GgufTensorInfo {
    const t = this.byName.get(name);
    if (!t) throw new EngineError('engine_bad_model', `the model has no tensor ${name}; the file is incomplete or not the architecture it claims`);
    if (!SUPPORTED_TYPES.includes(t.type)) {
      throw new EngineError(
        'engine_bad_model',
        `tensor ${name} is ${ggmlTypeName(t.type)}, which this engine does not run; use an F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q4_K, Q5_K or Q6_K model`,
      );
    }
    return t;
  }

  async bytes(t: GgufTensorInfo): Promise<Uint8Array> {
    const b = await this.source.read(t.fileOffset, t.byteSize);
    if (b.byteLength !== t.byteSize) {
      throw new EngineError('engine_bad_model', `tensor ${t.name}: read ${b.byteLength} of ${t.byteSize} bytes; the file is truncated`);
    }
    return b;
  }

  private shaped(name: string, want: number[]): GgufTensorInfo {
    const t = this.info(name);
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new EngineError('engine_bad_model', `tensor ${name} has shape [${t.shape}], expected [${want}]`);
    }
    return t;
  }

  /** A 2-D weight with its expected [cols, rows] (ggml order). */
  async matrix(name: string, cols: number, rows: number): Promise<WeightMatrix> {
    const t = this.shaped(name, [cols, rows]);
    return { name, type: t.type, rows, cols, data: await this.bytes(t) };
  }

  /** A 1-D weight used as a one-row matrix (qwen2moe's shared-expert gate, a dot product per token). */
  async rowMatrix(name: string, cols: number): Promise<WeightMatrix> {
    const t = this.shaped(name, [cols]);
    return { name, type: t.type, rows: 1, cols, data: await this.bytes(t) };
  }

  /** A 3-D expert tensor [cols, rows, count], read once and split into one matrix per expert. */
  async experts(name: string, cols: number, rows: number, count: number): Promise<WeightMatrix[]> {
    const t = this.shaped(name, [cols, rows, count]);
    const data = await this.bytes(t);
    const per = t.byteSize / count;
    return Array.from({ length: count }, (_, e) => ({ name: `${name}[${e}]`, type: t.type, rows, cols, data: data.subarray(e * per, (e + 1) * per) }));
  }

  /** A 1-D tensor (norm weights, biases) decoded to f32. */
  async vector(name: string, length: number): Promise<Float32Array> {
    const t = this.info(name);
    if (t.shape.length !== 1 || t.shape[0] !== length) {
      throw new EngineError('engine_bad_model', `tensor ${name} has shape [${t.shape}], expected [${length}]`);
    }
    return dequantizeRow(t.type, await this.bytes(t), length);
  }

  async optionalVector(name: string, length: number): Promise<Float32Array | undefined> {
    return this.has(name) ? this.vector(name, length) : undefined;
  }
}

export async function loadHeadWeights(store: WeightStore, c: ModelConfig): Promise<HeadWeights> {
  return { tokenEmbd: await store.matrix('token_embd.weight', c.nEmbd, c.nVocab) };
}

export async function loadTailWeights(store: WeightStore, c: ModelConfig): Promise<TailWeights> {
  const outputName = store.has('output.weight') ? 'output.weight' : 'token_embd.weight'; // tied embeddings
  return {
    outputNorm: await store.vector('output_norm.weight', c.nEmbd),
    output: await store.matrix(outputName, c.nEmbd, c.nVocab),
  };
}

export async function loadLayerWeights(store: WeightStore, c: ModelConfig, il: number): Promise<LayerWeights> {
  const n = (s: string) => `blk.${il}.${s}`;
  const qDim = c.nHead * c.headDim,
    kvDim = c.nHeadKv * c.headDim;
  if (store.has(n('attn_qkv.weight'))) {
    throw new EngineError('engine_unsupported_arch', 'fused attn_qkv weights are not supported yet; use a GGUF with separate attn_q/attn_k/attn_v');
  }
  return {
    index: il,
    attnNorm: await store.vector(n('attn_norm.weight'), c.nEmbd),
    wq: await store.matrix(n('attn_q.weight'), c.nEmbd, qDim),
    wk: await store.matrix(n('attn_k.weight'), c.nEmbd, kvDim),
    wv: await store.matrix(n('attn_v.weight'), c.nEmbd, kvDim),
    wo: await store.matrix(n('attn_output.weight'), qDim, c.nEmbd),
    bq: await store.optionalVector(n('attn_q.bias'), qDim),
    bk: await store.optionalVector(n('attn_k.bias'), kvDim),
    bv: await store.optionalVector(n('attn_v.bias'), kvDim),
    bo: await store.optionalVector(n('attn_output.bias'), c.nEmbd),
    qNorm: hasQkNorm(c.arch) ? await store.vector(n('attn_q_norm.weight'), c.headDim) : undefined,
    kNorm: hasQkNorm(c.arch) ? await store.vector(n('attn_k_norm.weight'), c.headDim) : undefined,
    ropeFreqs: await store.optionalVector('rope_freqs.weight', c.rope.nRot / 2),
    ffnNorm: await store.vector(n('ffn_norm.weight'), c.nEmbd),
    ffn:
      c.nExpert > 0
        ? await loadMoe(store, c, il)
        : {
            kind: 'dense',
            gate: await store.matrix(n('ffn_gate.weight'), c.nEmbd, c.nFf),
            up: await store.matrix(n('ffn_up.weight'), c.nEmbd, c.nFf),
            down: await store.matrix(n('ffn_down.weight'), c.nFf, c.nEmbd),
          },
  };
}

async function loadMoe(store: WeightStore, c: ModelConfig, il: number): Promise<MoeFfn> {
  const n = (s: string) => `blk.${il}.${s}`;
  const each = (name: string, cols: number, rows: number) => store.experts(n(name), cols, rows, c.nExpert);
  const shared =
    c.nFfShexp > 0
      ? {
          gate: await store.rowMatrix(n('ffn_gate_inp_shexp.weight'), c.nEmbd),
          ffn: {
            kind: 'dense' as const,
            gate: await store.matrix(n('ffn_gate_shexp.weight'), c.nEmbd, c.nFfShexp),
            up: await store.matrix(n('ffn_up_shexp.weight'), c.nEmbd, c.nFfShexp),
            down: await store.matrix(n('ffn_down_shexp.weight'), c.nFfShexp, c.nEmbd),
          },
        }
      : undefined;
  return {
    kind: 'moe',
    router: await store.matrix(n('ffn_gate_inp.weight'), c.nEmbd, c.nExpert),
    gate: await each('ffn_gate_exps.weight', c.nEmbd, c.nFfExp),
    up: await each('ffn_up_exps.weight', c.nEmbd, c.nFfExp),
    down: await each('ffn_down_exps.weight', c.nFfExp, c.nEmbd),
    shared,
  };
}
