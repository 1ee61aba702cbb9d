// Step 3 of the recipe (MODEL_CARD.md): the trained float32 weights (.cache/train/<shape>/) to GGUF
// with the project's writer, Q8_0 (vectors stay F32, as llama.cpp keeps them), the trained
// vocabulary and a completion-style chat template, into models/ where they are committed.
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GgmlType } from '../../src/gguf/ggml-types.ts';
import { quantizeRow } from '../../src/gguf/quant/index.ts';
import { gguf, type GgufMetaValue, type GgufTensorInput } from '../../src/gguf/writer.ts';
import { projectRoot } from '../llama-source.ts';
import { writeGgufAtomic } from '../models/cache.ts';
import { TRAINED_MODELS, type TrainedModel } from '../models/trained.ts';
import { trainDir } from './paths.ts';
import { spmMetadata, type SpmVocab } from './spm-vocab.ts';

/**
 * The models continue text; they were never trained on a chat format, only on verses, each one
 * document `<s> verse </s>`, windows of them in the Bible's order. So each message of a conversation
 * (system messages dropped) is rendered as a verse, and the answer is the verse that follows: the
 * user's words get a verse back, not a continuation that mostly ends at once with `</s>`.
 */
export const VERSE_TEMPLATE = "{%- for message in messages if message.role != 'system' -%}{{- message.content -}}</s><s>{%- endfor -%}";

interface Manifest {
  shape: string;
  params: number;
  embd: number;
  layers: number;
  heads: number;
  kv_heads: number;
  ff: number;
  vocab: number;
  ctx: number;
  step: number;
  tokens: number;
  val_loss: number;
  tensors: { name: string; shape: number[]; offset: number }[];
}

function exportModel(model: TrainedModel, vocab: SpmVocab): void {
  const dir = join(trainDir, model.trainedAs);
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const bin = readFileSync(join(dir, 'weights.bin'));
  const tensors: GgufTensorInput[] = m.tensors.map((t) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(bin.buffer.slice(bin.byteOffset + t.offset, bin.byteOffset + t.offset + 4 * n));
    const type = t.shape.length < 2 ? GgmlType.F32 : GgmlType.Q8_0;
    return { name: t.name, shape: t.shape, type, data: type === GgmlType.F32 ? new Uint8Array(values.buffer) : quantizeRow(type, values) };
  });
  const a = 'llama';
  const metadata: [string, GgufMetaValue][] = [
    ['general.architecture', gguf.string(a)],
    ['general.name', gguf.string(model.name)],
    ['general.description', gguf.string(`${model.description}; mesh-llm-web tools/train, ${m.tokens} tokens, step ${m.step}, held-out loss ${m.val_loss}`)],
    ['general.license', gguf.string('MIT')],
    ['general.file_type', gguf.u32(7)],
    ['general.quantization_version', gguf.u32(2)],
    [`${a}.vocab_size`, gguf.u32(m.vocab)],
    [`${a}.context_length`, gguf.u32(m.ctx)],
    [`${a}.embedding_length`, gguf.u32(m.embd)],
    [`${a}.block_count`, gguf.u32(m.layers)],
    [`${a}.feed_forward_length`, gguf.u32(m.ff)],
    [`${a}.attention.head_count`, gguf.u32(m.heads)],
    [`${a}.attention.head_count_kv`, gguf.u32(m.kv_heads)],
    [`${a}.rope.dimension_count`, gguf.u32(m.embd / m.heads)],
    [`${a}.rope.freq_base`, gguf.f32(10000)],
    [`${a}.attention.layer_norm_rms_epsilon`, gguf.f32(1e-5)],
    ...spmMetadata(vocab, VERSE_TEMPLATE),
  ];
  const path = join(projectRoot, model.file);
  mkdirSync(join(path, '..'), { recursive: true });
  writeGgufAtomic(path, { metadata, tensors });
  console.log(`${model.file}: ${m.params} parameters, ${m.tokens} tokens, held-out loss ${m.val_loss}, ${statSync(path).size} bytes`);
}

function main(): void {
  const raw = JSON.parse(readFileSync(join(trainDir, 'vocab.json'), 'utf8')) as { tokens: string[]; scores: number[]; types: number[] };
  const vocab: SpmVocab = { tokens: raw.tokens, scores: Float32Array.from(raw.scores), types: Int32Array.from(raw.types) };
  const only = process.argv.slice(2); // model names; default every trained model
  for (const model of TRAINED_MODELS) if (only.length === 0 || only.includes(model.name)) exportModel(model, vocab);
}

if (import.meta.main) main();
