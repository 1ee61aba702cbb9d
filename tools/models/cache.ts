// Generated models on disk: .cache/models/<name>.gguf plus a stamp of the generator version and spec.
// Writes go to a temp file renamed into place, so parallel test workers never see half a file.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ggufChunks, type GgufWriteInput } from '../../src/gguf/writer.ts';
import { cacheDir } from '../llama-source.ts';
import { buildModel, GENERATOR_VERSION } from './build.ts';
import type { ModelSpec } from './spec.ts';

export const modelsDir = join(cacheDir, 'models');

export function modelPath(name: string): string {
  return join(modelsDir, `${name}.gguf`);
}

function stampOf(spec: ModelSpec): string {
  return `generator ${GENERATOR_VERSION}\n${JSON.stringify(spec)}\n`;
}

function tempName(path: string): string {
  return `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
}

/** Streams a GGUF to `path` atomically; returns its size in bytes. */
export function writeGgufAtomic(path: string, input: GgufWriteInput): number {
  const tmp = tempName(path);
  const { totalSize, chunks } = ggufChunks(input);
  const fd = openSync(tmp, 'w');
  try {
    for (const chunk of chunks) {
      let done = 0;
      while (done < chunk.byteLength) done += writeSync(fd, chunk, done, chunk.byteLength - done);
    }
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  return totalSize;
}

export function isFresh(spec: ModelSpec): boolean {
  const path = modelPath(spec.name);
  try {
    return existsSync(path) && readFileSync(`${path}.stamp`, 'utf8') === stampOf(spec);
  } catch {
    return false;
  }
}

/** Generates the model file unless an up-to-date one exists; returns its path. */
export function ensureModelFile(spec: ModelSpec): string {
  const path = modelPath(spec.name);
  if (isFresh(spec)) return path;
  mkdirSync(modelsDir, { recursive: true });
  writeGgufAtomic(path, buildModel(spec));
  // The stamp follows the file: a stale stamp only costs a needless regeneration, never a stale model.
  const stampTmp = tempName(`${path}.stamp`);
  writeFileSync(stampTmp, stampOf(spec));
  renameSync(stampTmp, `${path}.stamp`);
  return path;
}
