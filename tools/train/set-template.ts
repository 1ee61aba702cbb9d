// Puts export.ts's chat template into the committed trained models without retraining: the weights
// and every other key are kept byte for byte, only `tokenizer.chat_template` changes. The training
// run's float weights are not kept, so this is how a template fix reaches models/.
// Usage: node tools/train/set-template.ts [model name ...]   (default: every trained model)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseGgufHeader } from '../../src/gguf/reader.ts';
import { gguf } from '../../src/gguf/writer.ts';
import { projectRoot } from '../llama-source.ts';
import { writeGgufAtomic } from '../models/cache.ts';
import { TRAINED_MODELS, typedMetadata } from '../models/trained.ts';
import { VERSE_TEMPLATE } from './export.ts';

const KEY = 'tokenizer.chat_template';

function setTemplate(file: string, template: string): void {
  const path = join(projectRoot, file);
  const bytes = new Uint8Array(readFileSync(path));
  const h = parseGgufHeader(bytes);
  if (h.metadata.get(KEY) === template) {
    console.log(`${file}: already has it`);
    return;
  }
  const metadata = typedMetadata(h).map(([key, v]) => [key, key === KEY ? gguf.string(template) : v] as const);
  const tensors = h.tensors.map((t) => ({ name: t.name, shape: t.shape, type: t.type, data: bytes.subarray(t.fileOffset, t.fileOffset + t.byteSize) }));
  writeGgufAtomic(path, { metadata: [...metadata], tensors });
  const again = parseGgufHeader(new Uint8Array(readFileSync(path)));
  if (again.metadata.get(KEY) !== template) throw new Error(`${file}: the template did not take`);
  console.log(`${file}: chat template set`);
}

if (import.meta.main) {
  const only = process.argv.slice(2);
  for (const model of TRAINED_MODELS) if (only.length === 0 || only.includes(model.name)) setTemplate(model.file, VERSE_TEMPLATE);
}
