// The committed trained models back into train.py's form (<out>/weights.bin, float32, and
// manifest.json), dequantized: the Q8_0 target as it is served, a teacher for distilling the draft, and
// either model as a start for more training (train.py --init / --teacher). The run's own float
// weights are not kept once exported, so this is where a later stage starts.
// Usage: node tools/train/from-gguf.ts <model name> <out dir>
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseGgufHeader } from '../../src/gguf/reader.ts';
import { dequantizeRow } from '../../src/gguf/quant/index.ts';
import { projectRoot } from '../llama-source.ts';
import { trainedModel } from '../models/trained.ts';
import { trainDir } from './paths.ts';

function fromGguf(name: string, out: string): void {
  const model = trainedModel(name);
  if (!model) throw new Error(`${name} is not a trained model (tools/models/trained.ts)`);
  const bytes = new Uint8Array(readFileSync(join(projectRoot, model.file)));
  const h = parseGgufHeader(bytes);
  const vocab = JSON.parse(readFileSync(join(trainDir, 'vocab.json'), 'utf8')) as { tokens: string[] };
  const tokens = h.metadata.get('tokenizer.ggml.tokens') as string[];
  if (tokens.length !== vocab.tokens.length || tokens.some((t, i) => t !== vocab.tokens[i]))
    throw new Error(`${name}'s vocabulary is not .cache/train/vocab.json's: run tools/train/prepare.ts`);
  const parts: Float32Array[] = [];
  let offset = 0;
  const tensors = h.tensors.map((t) => {
    const values = dequantizeRow(t.type, bytes.subarray(t.fileOffset, t.fileOffset + t.byteSize), t.elements);
    parts.push(values);
    const entry = { name: t.name, shape: t.shape, offset };
    offset += values.byteLength;
    return entry;
  });
  const description = String(h.metadata.get('general.description') ?? '');
  const trainedTokens = Number(/(\d+) tokens/.exec(description)?.[1] ?? 0);
  mkdirSync(out, { recursive: true });
  const bin = new Uint8Array(offset);
  let at = 0;
  for (const p of parts) {
    bin.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
    at += p.byteLength;
  }
  writeFileSync(join(out, 'weights.bin'), bin);
  writeFileSync(join(out, 'manifest.json'), JSON.stringify({ from: model.file, tokens: trainedTokens, tensors }, null, 1));
  console.log(`${name}: ${tensors.length} tensors, ${trainedTokens} tokens trained, into ${out}`);
}

if (import.meta.main) {
  const [name, out] = process.argv.slice(2);
  if (!name || !out) throw new Error('usage: node tools/train/from-gguf.ts <model name> <out dir>');
  fromGguf(name, out);
}
