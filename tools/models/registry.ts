// The project's deterministic test models (no weights can be downloaded here): what each one is for,
// and ensureModel(name), which returns .cache/models/<name>.gguf, generating it on first use.
import { ensureModelFile } from './cache.ts';
import { ensureTrainedModel, TRAINED_MODELS, trainedModel } from './trained.ts';
import { countParams, FILE_TYPE_ID, type ModelArch, type ModelFileType, type ModelShape, type ModelSpec, type ModelTag, type VocabName } from './spec.ts';

export type { ModelSpec, ModelTag } from './spec.ts';
export { TRAINED_MODELS, type TrainedModel } from './trained.ts';

interface Entry {
  name: string;
  arch?: ModelArch;
  vocab?: VocabName;
  type: ModelFileType;
  shape: ModelShape;
  seed: string;
  tags: ModelTag[];
  draftFor?: string;
  description: string;
  tokenizer?: ModelSpec['tokenizer'];
}

function spec(e: Entry): ModelSpec {
  const arch = e.arch ?? 'llama';
  const vocab = e.vocab ?? 'llama-spm';
  return { ...e, arch, vocab, fileType: FILE_TYPE_ID[e.type], params: countParams(arch, vocab, e.shape) };
}

/** Width 64: block-32 types only (K-quants need rows of 256). Mostly vocabulary: 4.2M parameters. */
const TINY: ModelShape = { embd: 64, layers: 2, heads: 4, kvHeads: 2, ff: 192, ctx: 2048 };
/** Width 256 so every matrix row is whole 256-element super-blocks. */
const SMALL: ModelShape = { embd: 256, layers: 2, heads: 4, kvHeads: 2, ff: 512, ctx: 2048 };
/** The benchmark shape: about 58M parameters. */
const BENCH: ModelShape = { embd: 512, layers: 8, heads: 8, kvHeads: 4, ff: 1536, ctx: 4096 };

const tinyTypes: ModelFileType[] = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q5_0'];
const kTypes: ModelFileType[] = ['Q4_K', 'Q5_K', 'Q6_K', 'Q4_K_M'];

export const MODELS: ModelSpec[] = [
  ...tinyTypes.map((type) =>
    spec({
      name: `tiny-llama-${type.toLowerCase()}`,
      type,
      shape: TINY,
      seed: 'tiny-llama',
      tags: ['tiny', 'types'],
      description: `tiny llama with grouped-query attention, ${type}`,
    }),
  ),
  ...kTypes.map((type) =>
    spec({
      name: `small-llama-${type.toLowerCase()}`,
      type,
      shape: SMALL,
      seed: 'small-llama',
      tags: ['types'],
      description:
        type === 'Q4_K_M' ? 'small llama laid out as llama.cpp Q4_K_M (Q6_K output, attn_v/ffn_down of some layers)' : `small llama, every matrix ${type}`,
    }),
  ),
  spec({
    name: 'tiny-qwen2-f16',
    arch: 'qwen2',
    vocab: 'qwen2',
    type: 'F16',
    shape: { ...TINY, tiedOutput: true, ctx: 4096 },
    seed: 'tiny-qwen2',
    tags: ['tiny', 'qwen'],
    description: 'tiny qwen2 (QKV bias, tied output) on the qwen2 vocabulary',
  }),
  spec({
    name: 'tiny-qwen3-q8_0',
    arch: 'qwen3',
    vocab: 'qwen2',
    type: 'Q8_0',
    shape: { ...TINY, ctx: 4096 },
    seed: 'tiny-qwen3',
    tags: ['tiny', 'qwen'],
    description: 'tiny qwen3 (q/k norm) on the qwen2 vocabulary',
  }),
  spec({
    name: 'tiny-moe-f16',
    type: 'F16',
    shape: { ...TINY, ff: 128, experts: 4, expertsUsed: 2 },
    seed: 'tiny-moe',
    tags: ['tiny', 'moe'],
    description: 'tiny Mixtral-style mixture of experts (4 experts, 2 used)',
  }),
  spec({
    name: 'tiny-qwen2moe-f16',
    arch: 'qwen2moe',
    vocab: 'qwen2',
    type: 'F16',
    shape: { ...TINY, ff: 64, experts: 4, expertsUsed: 2, sharedFf: 128, ctx: 4096 },
    seed: 'tiny-qwen2moe',
    tags: ['tiny', 'moe', 'qwen'],
    description: 'tiny qwen2moe (QKV bias, 4 experts of width 64 with 2 used and no renormalisation, a sigmoid-gated shared expert of width 128)',
  }),
  spec({
    name: 'tiny-qwen3moe-f16',
    arch: 'qwen3moe',
    vocab: 'qwen2',
    type: 'F16',
    shape: { ...TINY, ff: 64, experts: 4, expertsUsed: 2, ctx: 4096 },
    seed: 'tiny-qwen3moe',
    tags: ['tiny', 'moe', 'qwen'],
    description: 'tiny qwen3moe (q/k norm, 4 experts of width 64 with 2 used, renormalised)',
  }),
  spec({
    name: 'tiny-llama-draft-f32',
    type: 'F32',
    shape: { ...TINY, layers: 1 },
    seed: 'tiny-llama',
    tags: ['tiny', 'draft'],
    draftFor: 'tiny-llama-f32',
    description: 'one-layer draft sharing embeddings, output and layer 0 with tiny-llama-f32',
  }),
  spec({
    name: 'tiny-llama-4l-f32',
    type: 'F32',
    shape: { ...TINY, layers: 4 },
    seed: 'tiny-llama-4l',
    tags: ['tiny'],
    description: 'tiny llama with four layers, so the mesh tests can split it across three tabs',
  }),
  spec({
    // The shape of issue 14's F16 fidelity gap: every other test model's head dim is 16 or 64.
    name: 'tied-llama-hd48-f16',
    type: 'F16',
    shape: { embd: 384, layers: 2, heads: 8, kvHeads: 4, ff: 1024, ctx: 2048, tiedOutput: true },
    seed: 'tied-llama-hd48',
    tags: ['types'],
    description: 'llama with tied output embeddings, head dim 48 and the 32k llama vocabulary, F16',
  }),
  spec({
    name: 'bench-llama-q8_0',
    type: 'Q8_0',
    shape: BENCH,
    seed: 'bench-llama',
    tags: ['bench'],
    description: 'benchmark llama, 8 layers, width 512',
  }),
  spec({
    name: 'bench-llama-f16',
    type: 'F16',
    shape: BENCH,
    seed: 'bench-llama',
    tags: ['bench'],
    description: 'benchmark llama, 8 layers, width 512',
  }),
  spec({
    name: 'bench-llama-draft-q8_0',
    type: 'Q8_0',
    shape: { ...BENCH, layers: 1 },
    seed: 'bench-llama',
    tags: ['bench', 'draft'],
    draftFor: 'bench-llama-q8_0',
    description: 'one-layer draft sharing embeddings, output and layer 0 with bench-llama-q8_0',
  }),
  spec({
    // Qwen2.5-0.5B-Instruct's exact shapes (head dim 64, FFN 4864 = 19 super-blocks, rows of 896 = 3.5)
    // and its tokenizer settings (eos <|im_end|>, no BOS), in the Q4_K_M layout llama.cpp gives it.
    name: 'qwen2.5-0.5b-shape-q4_k_m',
    arch: 'qwen2',
    vocab: 'qwen2',
    type: 'Q4_K_M',
    shape: { embd: 896, layers: 24, heads: 14, kvHeads: 2, ff: 4864, ctx: 32768, tiedOutput: true },
    seed: 'qwen2.5-0.5b-shape',
    tags: ['real', 'qwen'],
    tokenizer: { eosTokenId: 151645, addBosToken: false },
    description:
      'Qwen2.5-0.5B-Instruct’s tensor shapes, metadata and Q4_K_M layout (Q8_0 tied embedding; Q5_0/Q8_0 where rows of 896 are not whole K-quant blocks)',
  }),
];

export function modelSpec(name: string): ModelSpec {
  const found = MODELS.find((m) => m.name === name);
  if (!found) throw new Error(`no test model named ${name}; known: ${MODELS.map((m) => m.name).join(', ')}`);
  return found;
}

/** Every name ensureModel knows: the generated test models, then the trained ones. */
export function modelNames(): string[] {
  return [...MODELS.map((m) => m.name), ...TRAINED_MODELS.map((m) => m.name)];
}

/**
 * Path of .cache/models/<name>.gguf: a trained model copied from models/, or a test model generated
 * (atomically) if missing or made by an older generator.
 */
export async function ensureModel(name: string): Promise<string> {
  const trained = trainedModel(name);
  return trained ? ensureTrainedModel(trained) : ensureModelFile(modelSpec(name));
}
