// The op interface every compute backend provides (reference TypeScript, WASM, WebGPU). The engine
// is written against it only; activations are f32, weights stay in their GGUF (ggml) encoding.

/** A 2-D weight as stored in GGUF: `rows` rows of `cols` contiguous values in ggml type `type`. */
export interface WeightMatrix {
  readonly name: string;
  /** ggml type id (see gguf/ggml-types.ts). */
  readonly type: number;
  /** Output features: ggml ne[1]. */
  readonly rows: number;
  /** Input features, contiguous in memory: ggml ne[0]. */
  readonly cols: number;
  /** rows * rowBytes bytes, exactly as in the file. */
  readonly data: Uint8Array;
}

/**
 * Where a backend keeps the weights it computes from when that is not the JavaScript heap (WASM: its
 * linear memory). A weight read straight into its home has no second copy (issue 14: two copies put
 * peak memory at 2.4x the file).
 */
export interface WeightHome {
  /** Room for one weight of `bytes` bytes, filled chunk by chunk. */
  reserve(shape: Omit<WeightMatrix, 'data'>, bytes: number): WeightSlot;
}

export interface WeightSlot {
  write(chunk: Uint8Array, offset: number): void;
  /** The weight, its `data` a view of the home; once every byte was written. */
  seal(): WeightMatrix;
  /** Gives the room back (the read failed). */
  abandon(): void;
}

/** RoPE as llama.cpp's ggml_rope_ext computes it (YaRN and llama3 frequency factors included). */
export interface RopeParams {
  /** 'normal' rotates adjacent pairs (llama); 'neox' rotates the halves (qwen2, qwen3). */
  readonly mode: 'normal' | 'neox';
  /** How many leading dims of each head are rotated (the rest pass through). */
  readonly nRot: number;
  readonly freqBase: number;
  /** 1 / scaling factor (linear and YaRN scaling); 1 when unscaled. */
  readonly freqScale: number;
  /** YaRN extrapolation mix: 0 unless the scaling type is yarn. */
  readonly extFactor: number;
  /** Magnitude factor applied to cos and sin. */
  readonly attnFactor: number;
  readonly betaFast: number;
  readonly betaSlow: number;
  /** The context length the model was trained with (YaRN correction dims). */
  readonly nCtxOrig: number;
  /** Per-frequency divisors (llama3's rope_freqs.weight), nRot/2 values, or undefined. */
  readonly freqFactors?: Float32Array;
}

export interface AttentionShape {
  readonly nHead: number;
  readonly nHeadKv: number;
  readonly headDim: number;
  /** Multiplies q·k before the softmax: 1/sqrt(headDim) for every architecture supported so far. */
  readonly scale: number;
}

export interface Kernels {
  readonly name: string;
  /**
   * out[t*rows + r] = sum_c w[r][c] * x[t*cols + c] for t < n: a batch of n activation rows times
   * the transposed weight (ggml_mul_mat(w, x)). The weight is decoded block by block as needed.
   */
  matmul(out: Float32Array, x: Float32Array, w: WeightMatrix, n: number): void;
  /** Row-wise RMS norm over `dim` values, then times `weight` (when given): llama.cpp's build_norm. */
  rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array | null, rows: number, dim: number, eps: number): void;
  /** Rotates, in place, x laid out as [token][head][headDim]; token t is at positions[t]. */
  rope(x: Float32Array, nTokens: number, nHeads: number, headDim: number, positions: Int32Array, p: RopeParams): void;
  /**
   * Causal multi-head attention with grouped KV heads. q: [nTokens][nHead][headDim] for positions
   * firstPos..firstPos+nTokens-1; k, v: the cache, [position][nHeadKv][headDim], holding at least
   * firstPos+nTokens positions. out: [nTokens][nHead][headDim].
   */
  attention(out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, nTokens: number, firstPos: number, shape: AttentionShape): void;
  /** out = silu(gate) * up, elementwise over len values (SwiGLU). */
  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, len: number): void;
  /** out = a + b over len values (out may alias a). */
  add(out: Float32Array, a: Float32Array, b: Float32Array, len: number): void;
  /** x[r*dim + i] += bias[i] for each of `rows` rows. */
  addBias(x: Float32Array, bias: Float32Array, rows: number, dim: number): void;
  /** In-place softmax of x[offset .. offset+len). */
  softmax(x: Float32Array, offset: number, len: number): void;
  /** out[t*cols ..] = row ids[t] of the table, decoded to f32 (the token embedding lookup). */
  embed(out: Float32Array, table: WeightMatrix, ids: Int32Array): void;
  /** Where weights should be read to, when the backend computes from memory of its own. */
  readonly weightHome?: WeightHome;
}
