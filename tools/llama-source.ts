// llama.cpp's own source tree, as node-llama-cpp ships it (llama/gitRelease.bundle): the vocabulary
// GGUFs with their tokenizer test vectors, and the reference quantizers. Cloned once into .cache/.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const projectRoot = join(import.meta.dirname, '..');
export const cacheDir = join(projectRoot, '.cache');

/** Returns the path of a checkout of the llama.cpp source that node-llama-cpp was built from. */
export function llamaCppSource(): string {
  const dir = join(cacheDir, 'llama.cpp');
  if (existsSync(join(dir, 'ggml', 'src', 'ggml-quants.c'))) return dir;
  const bundle = join(projectRoot, 'node_modules', 'node-llama-cpp', 'llama', 'gitRelease.bundle');
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm install (node-llama-cpp ships llama.cpp's source)`);
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  execFileSync('git', ['-c', 'advice.detachedHead=false', 'clone', '--quiet', bundle, tmp], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    renameSync(tmp, dir); // atomic: parallel test workers never see a half-cloned tree
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another worker won the race
  }
  return dir;
}

/** Path of one of llama.cpp's vocabulary-only GGUFs, e.g. vocabPath('llama-spm'). */
export function vocabPath(name: string): string {
  return join(llamaCppSource(), 'models', `ggml-vocab-${name}.gguf`);
}
