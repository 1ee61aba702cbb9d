// Model hyperparameters from GGUF metadata, read the way llama.cpp's loader reads them (defaults,
// optional keys, RoPE scaling), for the architectures this engine runs.
import type { GgufHeader, GgufValue } from '../gguf/reader.ts';
import type { RopeParams } from '../kernels/types.ts';
import { EngineError } from './errors.ts';

export type Arch = 'llama' | 'qwen2' | 'qwen3' | 'qwen2moe' | 'qwen3moe';
export const SUPPORTED_ARCHS: readonly Arch[] = ['llama', 'qwen2', 'qwen3', 'qwen2moe', 'qwen3moe'];

/** Architectures with per-head RMS norms of q and k (attn_q_norm / attn_k_norm). */
export function hasQkNorm(arch: Arch): boolean {
  return arch === 'qwen3' || arch === 'qwen3moe';
}

export interface ModelConfig {
  readonly arch: Arch;
  readonly nLayer: number;
  readonly nEmbd: number;
  readonly nHead: number;
  readonly nHeadKv: number;
  /** Per-head width of q and k (and v: this engine requires them equal). */
  readonly headDim: number;
  readonly nFf: number;
  readonly nVocab: number;
  /** The training context length: the most positions a session may hold. */
  readonly nCtxTrain: number;
  readonly normEps: number;
  /** Without llama3 frequency factors; those are a tensor, loaded with the layer weights. */
  readonly rope: RopeParams;
  readonly attnScale: number;
  /** Mixture of experts: 0 for dense models. */
  readonly nExpert: number;
  readonly nExpertUsed: number;
  /** Width of each routed expert's FFN (expert_feed_forward_length; llama's experts use nFf). */
  readonly nFfExp: number;
  /** qwen2moe's shared expert, gated by a sigmoid: its FFN width, or 0 when the model has none. */
  readonly nFfShexp: number;
  /** Whether the chosen experts' softmax weights are renormalised to sum to 1 (llama.cpp's norm_w). */
  readonly expertWeightsNorm: boolean;
}

function bad(detail: string): EngineError {
  return new EngineError('engine_bad_model', `the model's metadata is not usable: ${detail}; check that the GGUF was converted by a current llama.cpp`);
}

function num(meta: Map<string, GgufValue>, key: string, fallback?: number): number {
  const v = meta.get(key);
  if (v === undefined) {
    if (fallback === undefined) throw bad(`${key} is missing`);
    return fallback;
  }
  if (typeof v === 'number') return v;
  // Some keys (head counts, feed-forward width) may be per-layer arrays; this engine needs them uniform.
  if (ArrayBuffer.isView(v) && !(v instanceof DataView) && (v as ArrayLike<number>).length > 0) {
    const arr = Array.from(v as ArrayLike<number | bigint>, Number);
    if (arr.every((x) => x === arr[0])) return arr[0];
    throw new EngineError('engine_unsupported_arch', `${key} varies per layer (${arr.join(',')}); models with per-layer shapes are not supported yet`);
  }
  throw bad(`${key} is not a number`);
}

function str(meta: Map<string, GgufValue>, key: string, fallback: string): string {
  const v = meta.get(key);
  if (v === undefined) return fallback;
  if (typeof v !== 'string') throw bad(`${key} is not a string`);
  return v;
}

/** The rope scaling types llama.cpp knows; longrope (phi3) is refused below. */
const SCALING_TYPES = ['none', 'linear', 'yarn', 'longrope'];

function ropeParams(meta: Map<string, GgufValue>, arch: Arch, headDim: number, nCtxTrain: number): RopeParams {
  const p = `${arch}.rope.`;
  const scaling = str(meta, `${p}scaling.type`, 'linear');
  if (!SCALING_TYPES.includes(scaling)) throw bad(`${p}scaling.type is "${scaling}"`);
  if (scaling === 'longrope') {
    throw new EngineError('engine_unsupported_arch', 'longrope scaling is not supported yet; use a model without it');
  }
  const factor = num(meta, `${p}scaling.factor`, num(meta, `${p}scale_linear`, 0));
  // llama.cpp: freq_scale = 1/factor, forced to 1 when the scaling type is "none".
  const freqScale = scaling === 'none' || factor === 0 ? 1 : Math.fround(1 / factor);
  const extFactor = scaling === 'yarn' ? 1 : 0;
  let attnFactor = num(meta, `${p}scaling.attn_factor`, 1);
  if (extFactor !== 0) {
    // llama_context's YaRN magnitude correction: get_mscale(factor) cancelled against the
    // 1 + 0.1·ln(1/freq_scale) that ggml's rope multiplies in again. (For these architectures
    // llama.cpp reads no yarn_log_multiplier or beta keys; it uses the defaults, and so do we.)
    const f = 1 / freqScale;
    const mscale = f <= 1 ? 1 : 0.1 * Math.log(f) + 1;
    attnFactor = Math.fround(attnFactor * Math.fround(mscale / (1 + 0.1 * Math.log(f))));
  }
  return {
    mode: arch === 'llama' ? 'normal' : 'neox',
    nRot: num(meta, `${p}dimension_count`, headDim),
    freqBase: num(meta, `${p}freq_base`, 10000),
    freqScale,
    extFactor,
    attnFactor,
    betaFast: 32,
    betaSlow: 1,
    nCtxOrig: num(meta, `${p}scaling.original_context_length`, nCtxTrain),
  };
}

export function modelConfig(header: GgufHeader): ModelConfig {
  const meta = header.metadata;
  const archName = str(meta, 'general.architecture', '');
  if (!(SUPPORTED_ARCHS as readonly string[]).includes(archName)) {
    throw new EngineError(
      'engine_unsupported_arch',
      `architecture "${archName || '(none)'}" is not supported; this engine runs ${SUPPORTED_ARCHS.join(', ')} models (Mistral and Mixtral GGUFs use "llama")`,
    );
  }
  const arch = archName as Arch;
  const k = (key: string) => `${arch}.${key}`;
  const nEmbd = num(meta, k('embedding_length'));
  const nHead = num(meta, k('attention.head_count'));
  const nHeadKv = num(meta, k('attention.head_count_kv'), nHead);
  const headDim = num(meta, k('attention.key_length'), nEmbd / nHead);
  const headDimV = num(meta, k('attention.value_length'), headDim);
  const nCtxTrain = num(meta, k('context_length'));
  const embd = header.tensors.find((t) => t.name === 'token_embd.weight');
  if (embd?.shape.length !== 2 || embd.shape[0] !== nEmbd) throw bad(`token_embd.weight is missing or not [${nEmbd}, n_vocab]`);
  if (!Number.isInteger(headDim) || headDim !== headDimV) throw bad(`head widths (key ${headDim}, value ${headDimV}) differ`);
  if (nHead % nHeadKv !== 0) throw bad(`${nHead} query heads do not group evenly over ${nHeadKv} KV heads`);
  const rope = ropeParams(meta, arch, headDim, nCtxTrain);
  if (rope.nRot > headDim || rope.nRot % 2 !== 0) throw bad(`rope.dimension_count ${rope.nRot} does not fit head width ${headDim}`);
  const nFf = num(meta, k('feed_forward_length'), arch.endsWith('moe') ? 0 : undefined);
  const nExpert = num(meta, k('expert_count'), 0),
    nExpertUsed = num(meta, k('expert_used_count'), 0);
  const isQwenMoe = arch === 'qwen2moe' || arch === 'qwen3moe';
  if (isQwenMoe && (nExpert === 0 || nExpertUsed === 0)) throw bad(`${arch} needs expert_count and expert_used_count`);
  if (nExpertUsed > nExpert) throw bad(`expert_used_count ${nExpertUsed} exceeds expert_count ${nExpert}`);
  // As llama.cpp's loaders: qwen MoE experts default to n_ff / n_expert_used, the shared expert to n_ff.
  const nFfExp = isQwenMoe ? num(meta, k('expert_feed_forward_length'), Math.floor(nFf / nExpertUsed)) : nFf;
  const nFfShexp = arch === 'qwen2moe' ? num(meta, k('expert_shared_feed_forward_length'), nFf) : 0;
  if (nExpert > 0 && nFfExp <= 0) throw bad(`${k('expert_feed_forward_length')} is missing`);
  return {
    arch,
    nLayer: num(meta, k('block_count')),
    nEmbd,
    nHead,
    nHeadKv,
    headDim,
    nFf,
    nVocab: embd.shape[1],
    nCtxTrain,
    normEps: num(meta, k('attention.layer_norm_rms_epsilon')),
    rope,
    // llama.cpp reads no attention.scale for these architectures: always 1/sqrt(head_dim).
    attnScale: Math.fround(1 / Math.fround(Math.sqrt(headDim))),
    nExpert,
    nExpertUsed,
    nFfExp,
    nFfShexp,
    // Hard-wired per architecture in llama.cpp's graphs (Mixtral and qwen3moe renormalise, qwen2moe does not).
    expertWeightsNorm: arch !== 'qwen2moe',
  };
}
