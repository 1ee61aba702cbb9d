// Synthetic GGUF models for engine tests: small random-weight llama/qwen2/qwen3/MoE files built in
// memory with the project's GGUF writer, so split, cache and rollback behaviour is testable without
// the generated test models or llama.cpp.
import { memorySource } from '../../gguf/byte-source.ts';
import { GgmlType } from '../../gguf/ggml-types.ts';
import { quantizeRow } from '../../gguf/quant/index.ts';
import { encodeGguf, gguf, type GgufMetaValue, type GgufTensorInput } from '../../gguf/writer.ts';
import { randomArray } from '../../kernels/testing/data.ts';
import type { Arch } from '../config.ts';
import { openModel, type ModelFile } from '../model.ts';

export interface SynthOptions {
  readonly arch?: Arch;
  readonly nLayer?: number;
  readonly nEmbd?: number;
  readonly nHead?: number;
  readonly nHeadKv?: number;
  readonly nFf?: number;
  readonly nVocab?: number;
  readonly ctx?: number;
  /** Omit output.weight so the tail uses the token embedding. */
  readonly tied?: boolean;
  readonly experts?: { readonly count: number; readonly used: number };
  /** Write llama3-style rope_freqs.weight. */
  readonly ropeFreqs?: boolean;
  /** Type of the 2-D weights (F32 by default). */
  readonly type?: number;
  readonly extraMetadata?: ReadonlyArray<readonly [string, GgufMetaValue]>;
  readonly seed?: number;
}

export function synthModelBytes(o: SynthOptions = {}): Uint8Array {
  const arch = o.arch ?? 'llama';
  const nLayer = o.nLayer ?? 3,
    nEmbd = o.nEmbd ?? 32,
    nHead = o.nHead ?? 4,
    nHeadKv = o.nHeadKv ?? 2;
  const nFf = o.nFf ?? 64,
    nVocab = o.nVocab ?? 48,
    headDim = nEmbd / nHead;
  const type = o.type ?? GgmlType.F32;
  let seed = o.seed ?? 1;
  const tensors: GgufTensorInput[] = [];
  const add = (name: string, shape: number[], t: number, scale: number, offset = 0) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = randomArray(seed++, n, scale).map((x) => x + offset);
    tensors.push({ name, shape, type: t, data: quantizeRow(t, v) });
  };
  const mat = (name: string, cols: number, rows: number, extra: number[] = []) => add(name, [cols, rows, ...extra], type, 1 / Math.sqrt(cols));
  const vec = (name: string, n: number, offset = 0, scale = 0.1) => add(name, [n], GgmlType.F32, scale, offset);

  add('token_embd.weight', [nEmbd, nVocab], type, 1);
  vec('output_norm.weight', nEmbd, 1);
  if (!o.tied) mat('output.weight', nEmbd, nVocab);
  if (o.ropeFreqs) vec('rope_freqs.weight', headDim / 2, 2, 1);
  for (let il = 0; il < nLayer; il++) {
    const b = `blk.${il}.`;
    vec(`${b}attn_norm.weight`, nEmbd, 1);
    mat(`${b}attn_q.weight`, nEmbd, nHead * headDim);
    mat(`${b}attn_k.weight`, nEmbd, nHeadKv * headDim);
    mat(`${b}attn_v.weight`, nEmbd, nHeadKv * headDim);
    mat(`${b}attn_output.weight`, nHead * headDim, nEmbd);
    if (arch === 'qwen2') {
      vec(`${b}attn_q.bias`, nHead * headDim, 0, 0.5);
      vec(`${b}attn_k.bias`, nHeadKv * headDim, 0, 0.5);
      vec(`${b}attn_v.bias`, nHeadKv * headDim, 0, 0.5);
    }
    if (arch === 'qwen3') {
      vec(`${b}attn_q_norm.weight`, headDim, 1);
      vec(`${b}attn_k_norm.weight`, headDim, 1);
    }
    vec(`${b}ffn_norm.weight`, nEmbd, 1);
    if (o.experts) {
      mat(`${b}ffn_gate_inp.weight`, nEmbd, o.experts.count);
      mat(`${b}ffn_gate_exps.weight`, nEmbd, nFf, [o.experts.count]);
      mat(`${b}ffn_up_exps.weight`, nEmbd, nFf, [o.experts.count]);
      mat(`${b}ffn_down_exps.weight`, nFf, nEmbd, [o.experts.count]);
    } else {
      mat(`${b}ffn_gate.weight`, nEmbd, nFf);
      mat(`${b}ffn_up.weight`, nEmbd, nFf);
      mat(`${b}ffn_down.weight`, nFf, nEmbd);
    }
  }
  const metadata: (readonly [string, GgufMetaValue])[] = [
    ['general.architecture', gguf.string(arch)],
    [`${arch}.block_count`, gguf.u32(nLayer)],
    [`${arch}.context_length`, gguf.u32(o.ctx ?? 256)],
    [`${arch}.embedding_length`, gguf.u32(nEmbd)],
    [`${arch}.feed_forward_length`, gguf.u32(nFf)],
    [`${arch}.attention.head_count`, gguf.u32(nHead)],
    [`${arch}.attention.head_count_kv`, gguf.u32(nHeadKv)],
    [`${arch}.attention.layer_norm_rms_epsilon`, gguf.f32(1e-6)],
    [`${arch}.rope.freq_base`, gguf.f32(arch === 'llama' ? 10000 : 1000000)],
  ];
  if (o.experts) {
    metadata.push([`${arch}.expert_count`, gguf.u32(o.experts.count)], [`${arch}.expert_used_count`, gguf.u32(o.experts.used)]);
  }
  metadata.push(...(o.extraMetadata ?? []));
  return encodeGguf({ metadata, tensors });
}

export function synthModel(o: SynthOptions = {}): Promise<ModelFile> {
  return openModel(memorySource(synthModelBytes(o)));
}
