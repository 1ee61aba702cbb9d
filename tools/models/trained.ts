// Models trained by tools/train/ (real weights, on the King James Version) and committed under
// models/: unlike the generated test models they are files, not specs. ensureModel copies one into
// .cache/models/ so the app server publishes it under /models/ like every other model.
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GgmlType } from '../../src/gguf/ggml-types.ts';
import { type GgufHeader, parseGgufHeader } from '../../src/gguf/reader.ts';
import { dequantizeRow } from '../../src/gguf/quant/index.ts';
import { gguf, type GgufMetaValue } from '../../src/gguf/writer.ts';
import { projectRoot } from '../llama-source.ts';
import { modelPath, modelsDir, writeGgufAtomic } from './cache.ts';
import { toMeta } from './vocab.ts';

export interface TrainedModel {
  readonly name: string;
  /** The committed file, relative to the project root. */
  readonly file: string;
  /** tools/train/train.py's --shape. */
  readonly trainedAs: 'target' | 'draft';
  /** The target this model drafts for (same vocabulary). */
  readonly draftFor?: string;
  readonly description: string;
}

export const TRAINED_MODELS: readonly TrainedModel[] = [
  {
    name: 'kjv-llama-16m-q8_0',
    file: 'models/kjv-llama-16m-q8_0.gguf',
    trainedAs: 'target',
    description: 'llama, 8 layers of width 384, trained on the King James Version (tools/train/MODEL_CARD.md), Q8_0',
  },
  {
    name: 'kjv-llama-3m-q8_0',
    file: 'models/kjv-llama-3m-q8_0.gguf',
    trainedAs: 'draft',
    draftFor: 'kjv-llama-16m-q8_0',
    description: 'llama, 3 layers of width 192, draft for kjv-llama-16m-q8_0 (same vocabulary and text), Q8_0',
  },
];

export class TrainedModelMissingError extends Error {
  readonly code = 'TRAINED_MODEL_MISSING';
}

export function trainedModel(name: string): TrainedModel | undefined {
  return TRAINED_MODELS.find((m) => m.name === name);
}

/** .cache/models/<name>.gguf, copied from the committed file when missing or of another size. */
export function ensureTrainedModel(model: TrainedModel): string {
  const source = join(projectRoot, model.file);
  if (!existsSync(source)) throw new TrainedModelMissingError(`${model.file} is missing: check it out from git, or rebuild it with tools/train/train.sh`);
  const path = modelPath(model.name);
  if (existsSync(path) && statSync(path).size === statSync(source).size && statSync(path).mtimeMs >= statSync(source).mtimeMs) return path;
  mkdirSync(modelsDir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  copyFileSync(source, tmp);
  renameSync(tmp, path);
  return path;
}

/**
 * The trained model's Q8_0 weights dequantized and stored as F32: the same function without int8
 * activation rounding, so parity with llama.cpp can be held to the F32 bar (trained-pair.test.ts).
 */
export function ensureTrainedF32Twin(model: TrainedModel): string {
  const source = ensureTrainedModel(model);
  const path = modelPath(`${model.name}-f32-twin`);
  if (existsSync(path) && statSync(path).mtimeMs >= statSync(source).mtimeMs) return path;
  const bytes = new Uint8Array(readFileSync(source));
  const h = parseGgufHeader(bytes);
  const metadata = typedMetadata(h).filter(([key]) => key !== 'general.file_type');
  metadata.push(['general.file_type', gguf.u32(0)]);
  const tensors = h.tensors.map((t) => {
    const raw = bytes.subarray(t.fileOffset, t.fileOffset + t.byteSize);
    const values = dequantizeRow(t.type, raw, t.elements);
    return { name: t.name, shape: t.shape, type: GgmlType.F32, data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
  });
  mkdirSync(modelsDir, { recursive: true });
  writeGgufAtomic(path, { metadata, tensors });
  return path;
}

/** A trained model's metadata as read, with the GGUF types the reader drops put back (for rewriting it). */
export function typedMetadata(h: GgufHeader): [string, GgufMetaValue][] {
  // These keys are floats even when their value is a whole number.
  const float = (key: string) => key.endsWith('.freq_base') || key.endsWith('_epsilon');
  return [...h.metadata].map(([key, v]) => [key, typeof v === 'number' && float(key) ? gguf.f32(v) : toMeta(key, v)]);
}
