// Split test models: a registry model written as gguf-split shards (.cache/models/split/<name>-0000i-of-0000n.gguf),
// generated on first use, for tests that load split GGUFs in the engine and in llama.cpp.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitFileName } from '../../src/gguf/split.ts';
import { splitGgufInput } from '../../src/gguf/split-writer.ts';
import { buildModel, GENERATOR_VERSION } from './build.ts';
import { modelsDir, writeGgufAtomic } from './cache.ts';
import { modelSpec } from './registry.ts';

export const splitModelsDir = join(modelsDir, 'split');

/** Paths of the `shards` files of test model `name`, the first shard first; generated if missing or stale. */
export function ensureSplitModel(name: string, shards: number): string[] {
  const spec = modelSpec(name);
  const prefix = `${name}-split${shards}`;
  const paths = Array.from({ length: shards }, (_, i) => join(splitModelsDir, splitFileName(prefix, i, shards)));
  const stampPath = join(splitModelsDir, `${prefix}.stamp`);
  const stamp = `generator ${GENERATOR_VERSION}\n${JSON.stringify(spec)}\nshards ${shards}\n`;
  const fresh = paths.every((p) => existsSync(p)) && existsSync(stampPath) && readFileSync(stampPath, 'utf8') === stamp;
  if (fresh) return paths;
  mkdirSync(splitModelsDir, { recursive: true });
  splitGgufInput(buildModel(spec), shards, prefix).forEach((p, i) => writeGgufAtomic(paths[i], p.input));
  const tmp = `${stampPath}.tmp-${process.pid}`;
  writeFileSync(tmp, stamp);
  renameSync(tmp, stampPath);
  return paths;
}
