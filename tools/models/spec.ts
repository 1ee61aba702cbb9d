// What a generated test model is: architecture, shape, vocabulary, tensor type, tags. Data lives in
// registry.ts; building lives in build.ts.

export type ModelArch = 'llama' | 'qwen2' | 'qwen3' | 'qwen2moe' | 'qwen3moe';
export type VocabName = 'llama-spm' | 'qwen2';
/** A pure file type (every matrix in that type) or Q4_K_M, laid out as llama.cpp's quantizer does it. */
export type ModelFileType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q5_0' | 'Q4_K' | 'Q5_K' | 'Q6_K' | 'Q4_K_M';
/** `real`: a real model's exact shapes and metadata (hundreds of MiB; generated only when asked for). */
export type ModelTag = 'tiny' | 'types' | 'qwen' | 'moe' | 'draft' | 'bench' | 'real';

export interface ModelShape {
  readonly embd: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly ff: number;
  readonly ctx: number;
  /** Routed experts (llama: Mixtral-style; qwen2moe/qwen3moe); each expert's FFN is `ff` wide. */
  readonly experts?: number;
  readonly expertsUsed?: number;
  /** qwen2moe's shared expert FFN width (expert_shared_feed_forward_length). */
  readonly sharedFf?: number;
  /** No output.weight: llama.cpp reuses token_embd (as Qwen2-0.5B does). */
  readonly tiedOutput?: boolean;
}

export interface ModelSpec {
  readonly name: string;
  readonly arch: ModelArch;
  readonly vocab: VocabName;
  readonly type: ModelFileType;
  /** general.file_type (llama_ftype). */
  readonly fileType: number;
  readonly shape: ModelShape;
  /** Tensors are seeded by `${seed}/${tensor name}`: models with one seed share identical tensors. */
  readonly seed: string;
  readonly tags: readonly ModelTag[];
  /** Exact parameter count. */
  readonly params: number;
  /** For a draft model: the model whose vocabulary, embeddings and first layers it shares. */
  readonly draftFor?: string;
  readonly description: string;
  /** Tokenizer settings of the real model this one copies, where they differ from its vocabulary GGUF's. */
  readonly tokenizer?: { readonly eosTokenId?: number; readonly addBosToken?: boolean };
}

export const VOCAB_SIZE: Record<VocabName, number> = { 'llama-spm': 32000, qwen2: 151936 };

export const FILE_TYPE_ID: Record<ModelFileType, number> = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q8_0: 7,
  Q5_0: 8,
  Q4_K: 14,
  Q4_K_M: 15,
  Q5_K: 16,
  Q6_K: 18,
  BF16: 32,
};

export function headDim(s: ModelShape): number {
  return s.embd / s.heads;
}

export function countParams(arch: ModelArch, vocab: VocabName, s: ModelShape): number {
  const v = VOCAB_SIZE[vocab];
  const hd = headDim(s);
  const kv = s.kvHeads * hd;
  let layer = 2 * s.embd; // attn_norm, ffn_norm
  layer += s.embd * s.embd * 2 + s.embd * kv * 2; // q, o, k, v
  if (arch === 'qwen2' || arch === 'qwen2moe') layer += s.embd + 2 * kv; // q/k/v biases
  if (arch === 'qwen3' || arch === 'qwen3moe') layer += 2 * hd; // q/k norms
  const experts = s.experts ?? 0;
  layer += experts > 0 ? s.embd * experts + 3 * s.embd * s.ff * experts : 3 * s.embd * s.ff;
  if (s.sharedFf) layer += s.embd + 3 * s.embd * s.sharedFf; // shared-expert gate and FFN
  return v * s.embd * (s.tiedOutput ? 1 : 2) + s.embd + s.layers * layer;
}
