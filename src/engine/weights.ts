// Loads the tensors a part of the model needs (the head, a layer range, the tail) from a ByteSource,
// so a peer running layers 8..16 of a remote model fetches only those layers' bytes. Matrices go
// straight to the backend's weight home where it has one (WASM memory), a chunk at a time, and a
// matrix asked for twice (a tied model's embedding, by the head and the output) is read once.
import { ggmlTypeName, SUPPORTED_TYPES } from '../gguf/ggml-types.ts';
import { dequantizeRow } from '../gguf/quant/index.ts';
import type { ByteSource, GgufHeader, GgufTensorInfo } from '../gguf/reader.ts';
import type { WeightHome, WeightMatrix } from '../kernels/types.ts';
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

/**
 * Bytes read per request when a weight goes to a weight home: the most JavaScript memory a read holds
 * (its buffer stays with the store for the next load). Sources that can readInto answer a read this
 * size as cheaply as a larger one (a file, the weight cache's streams).
 */
const HOME_CHUNK = 2 << 20;

/** Reads tensors by name from one GGUF, checking shapes against what the engine expects. */
export class WeightStore {
  readonly header: GgufHeader;
  readonly source: ByteSource;
  private readonly byName: Map<string, GgufTensorInfo>;
  /** Matrices already loaded, per weight home ('' for the JavaScript heap), while something holds them. */
  private readonly loaded = new Map<WeightHome | '', Map<string, WeakRef<WeightMatrix>>>();
  /** Read buffers for loads into a home: one per load under way (stages load side by side), reused after. */
  private readonly chunks: Uint8Array[] = [];

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

  /** A 2-D weight with its expected [cols, rows] (ggml order), in `home` when given. */
  async matrix(name: string, cols: number, rows: number, home?: WeightHome): Promise<WeightMatrix> {
    const t = this.shaped(name, [cols, rows]);
    return this.place({ name, type: t.type, rows, cols }, t, 0, t.byteSize, home);
  }

  /** A 1-D weight used as a one-row matrix (qwen2moe's shared-expert gate, a dot product per token). */
  async rowMatrix(name: string, cols: number, home?: WeightHome): Promise<WeightMatrix> {
    const t = this.shaped(name, [cols]);
    return this.place({ name, type: t.type, rows: 1, cols }, t, 0, t.byteSize, home);
  }

  /** A 3-D expert tensor [cols, rows, count] as one matrix per expert. */
  async experts(name: string, cols: number, rows: number, count: number, home?: WeightHome): Promise<WeightMatrix[]> {
    const t = this.shaped(name, [cols, rows, count]);
    const per = t.byteSize / count;
    if (!home) {
      const data = await this.bytes(t); // one read, split
      return Array.from({ length: count }, (_, e) => ({ name: `${name}[${e}]`, type: t.type, rows, cols, data: data.subarray(e * per, (e + 1) * per) }));
    }
    const out: WeightMatrix[] = [];
    for (let e = 0; e < count; e++) out.push(await this.place({ name: `${name}[${e}]`, type: t.type, rows, cols }, t, e * per, per, home));
    return out;
  }

  /** Up to HOME_CHUNK bytes, into `buffer` where the source can (no garbage per chunk). */
  private async readChunk(offset: number, length: number, buffer: Uint8Array | undefined): Promise<Uint8Array> {
    if (!(this.source.readInto && buffer)) return this.source.read(offset, length);
    const n = await this.source.readInto(offset, buffer.subarray(0, length));
    return buffer.subarray(0, n);
  }

  /** Bytes [from, from+size) of tensor t as a matrix: in `home`, read a chunk at a time, else one read. */
  private async place(shape: Omit<WeightMatrix, 'data'>, t: GgufTensorInfo, from: number, size: number, home: WeightHome | undefined): Promise<WeightMatrix> {
    let cache = this.loaded.get(home ?? '');
    if (!cache) this.loaded.set(home ?? '', (cache = new Map()));
    const known = cache.get(shape.name)?.deref();
    if (known && known.rows === shape.rows && known.cols === shape.cols) return known;
    let w: WeightMatrix;
    if (!home) {
      const all = from === 0 && size === t.byteSize ? await this.bytes(t) : (await this.bytes(t)).subarray(from, from + size);
      w = { ...shape, data: all };
    } else {
      const slot = home.reserve(shape, size);
      // This load's own buffer: another load under way meanwhile must not write into the chunk before it is copied.
      const buffer = this.source.readInto ? (this.chunks.pop() ?? new Uint8Array(HOME_CHUNK)) : undefined;
      try {
        for (let off = 0; off < size; off += HOME_CHUNK) {
          const want = Math.min(HOME_CHUNK, size - off);
          const b = await this.readChunk(t.fileOffset + from + off, want, buffer);
          if (b.byteLength !== want) {
            throw new EngineError('engine_bad_model', `tensor ${t.name}: read ${from + off + b.byteLength} of ${t.byteSize} bytes; the file is truncated`);
          }
          slot.write(b, off);
        }
        w = slot.seal();
      } catch (e) {
        slot.abandon();
        throw e;
      } finally {
        if (buffer) this.chunks.push(buffer);
      }
    }
    cache.set(shape.name, new WeakRef(w));
    return w;
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

/** The token embedding stays in its file's type (quantized stays quantized); rows are decoded on lookup. */
export async function loadHeadWeights(store: WeightStore, c: ModelConfig, home?: WeightHome): Promise<HeadWeights> {
  return { tokenEmbd: await store.matrix('token_embd.weight', c.nEmbd, c.nVocab, home) };
}

export async function loadTailWeights(store: WeightStore, c: ModelConfig, home?: WeightHome): Promise<TailWeights> {
  const outputName = store.has('output.weight') ? 'output.weight' : 'token_embd.weight'; // tied embeddings: the head's own matrix
  return {
    outputNorm: await store.vector('output_norm.weight', c.nEmbd),
    output: await store.matrix(outputName, c.nEmbd, c.nVocab, home),
  };
}

export async function loadLayerWeights(store: WeightStore, c: ModelConfig, il: number, home?: WeightHome): Promise<LayerWeights> {
  const n = (s: string) => `blk.${il}.${s}`;
  const qDim = c.nHead * c.headDim,
    kvDim = c.nHeadKv * c.headDim;
  if (store.has(n('attn_qkv.weight'))) {
    throw new EngineError('engine_unsupported_arch', 'fused attn_qkv weights are not supported yet; use a GGUF with separate attn_q/attn_k/attn_v');
  }
  return {
    index: il,
    attnNorm: await store.vector(n('attn_norm.weight'), c.nEmbd),
    wq: await store.matrix(n('attn_q.weight'), c.nEmbd, qDim, home),
    wk: await store.matrix(n('attn_k.weight'), c.nEmbd, kvDim, home),
    wv: await store.matrix(n('attn_v.weight'), c.nEmbd, kvDim, home),
    wo: await store.matrix(n('attn_output.weight'), qDim, c.nEmbd, home),
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
        ? await loadMoe(store, c, il, home)
        : {
            kind: 'dense',
            gate: await store.matrix(n('ffn_gate.weight'), c.nEmbd, c.nFf, home),
            up: await store.matrix(n('ffn_up.weight'), c.nEmbd, c.nFf, home),
            down: await store.matrix(n('ffn_down.weight'), c.nFf, c.nEmbd, home),
          },
  };
}

async function loadMoe(store: WeightStore, c: ModelConfig, il: number, home?: WeightHome): Promise<MoeFfn> {
  const n = (s: string) => `blk.${il}.${s}`;
  const each = (name: string, cols: number, rows: number) => store.experts(n(name), cols, rows, c.nExpert, home);
  const shared =
    c.nFfShexp > 0
      ? {
          gate: await store.rowMatrix(n('ffn_gate_inp_shexp.weight'), c.nEmbd, home),
          ffn: {
            kind: 'dense' as const,
            gate: await store.matrix(n('ffn_gate_shexp.weight'), c.nEmbd, c.nFfShexp, home),
            up: await store.matrix(n('ffn_up_shexp.weight'), c.nEmbd, c.nFfShexp, home),
            down: await store.matrix(n('ffn_down_shexp.weight'), c.nFfShexp, c.nEmbd, home),
          },
        }
      : undefined;
  return {
    kind: 'moe',
    router: await store.matrix(n('ffn_gate_inp.weight'), c.nEmbd, c.nExpert, home),
    gate: await each('ffn_gate_exps.weight', c.nEmbd, c.nFfExp),
    up: await each('ffn_up_exps.weight', c.nEmbd, c.nFfExp),
    down: await each('ffn_down_exps.weight', c.nFfExp, c.nEmbd),
    shared,
  };
}
