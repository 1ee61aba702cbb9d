// On-disk cache of reference results, so a test suite that asks the same question twice pays once.
// Keyed by the model file's identity (resolved path, size, mtime: regenerating a model invalidates
// it), the prompt, every option and the llama.cpp release.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../llama-source.ts';
import type { ReferenceResult } from './types.ts';

/** Bump when the harness changes what it records. */
const FORMAT = 2; // 2: promptLogprobs

export const referenceCacheDir = join(cacheDir, 'reference');

export function cacheKey(modelPath: string, question: Record<string, unknown>): string {
  const stat = statSync(modelPath);
  const identity = { format: FORMAT, model: realpathSync(modelPath), size: stat.size, mtimeMs: stat.mtimeMs, ...question };
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 32);
}

export function readCached(key: string): ReferenceResult | undefined {
  const path = join(referenceCacheDir, `${key}.json`);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ReferenceResult;
  } catch {
    return undefined; // a torn or foreign file: recompute and overwrite
  }
}

export function writeCached(key: string, result: ReferenceResult): void {
  mkdirSync(referenceCacheDir, { recursive: true });
  const path = join(referenceCacheDir, `${key}.json`);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(result));
  renameSync(tmp, path); // atomic: parallel test workers never read half a file
}
